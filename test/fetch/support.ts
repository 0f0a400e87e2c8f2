import type { FetchFunction } from '../../src/fetch/throttled-fetch';
import type { FakeClock } from '../../src/testing/fake-clock';

/** What the scripted provider answers to one attempt. */
export type ScriptedAnswer =
  | { kind: 'ok'; usageTokens?: number }
  | { kind: 'stream'; usageTokens: number; chunks: number }
  | { kind: '429'; retryAfterMs?: number }
  | { kind: '500' }
  | { kind: 'reset' };

/**
 * A fake provider on the fake clock: each attempt takes `latencyMs` (honouring the signal), then
 * answers as `next()` says. Records the fake time of every attempt sent.
 */
export class ScriptedProvider {
  readonly sentAtMs: number[] = [];
  inFlight = 0;
  maxInFlight = 0;

  constructor(
    private readonly clock: FakeClock,
    private readonly next: () => ScriptedAnswer,
    private readonly latencyMs = 10,
  ) {}

  readonly fetch: FetchFunction = async (_input, init) => {
    this.sentAtMs.push(this.clock.now());
    const answer = this.next();
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await this.clock.sleep(this.latencyMs, init?.signal ?? undefined);
    } catch (error) {
      this.inFlight--;
      throw error;
    }
    // A stream stays in flight until its body ends.
    if (answer.kind !== 'stream') this.inFlight--;
    switch (answer.kind) {
      case 'ok':
        return json(200, { usage: { total_tokens: answer.usageTokens ?? 5 } });
      case '429':
        return json(
          429,
          { error: { type: 'requests', code: 'rate_limit_exceeded', message: 'slow down' } },
          answer.retryAfterMs === undefined ? {} : { 'retry-after-ms': String(answer.retryAfterMs) },
        );
      case '500':
        return json(500, { error: { message: 'oops' } });
      case 'reset':
        throw new TypeError('fetch failed', { cause: new Error('ECONNRESET') });
      case 'stream':
        return this.stream(answer, init?.signal ?? undefined);
    }
  };

  /** An OpenAI-style event stream: one chunk per `chunkMs`, then the usage chunk and `[DONE]`. */
  private stream(answer: { usageTokens: number; chunks: number }, signal: AbortSignal | undefined): Response {
    const encoder = new TextEncoder();
    let sent = 0;
    let done = false;
    const end = () => {
      if (!done) this.inFlight--;
      done = true;
    };
    const body = new ReadableStream<Uint8Array>({
      // As fetch does, an abort ends the body at once, whether or not a read is pending.
      start: (controller) => {
        signal?.addEventListener(
          'abort',
          () => {
            if (done) return;
            end();
            controller.error(signal.reason);
          },
          { once: true },
        );
      },
      pull: async (controller) => {
        if (done) return;
        try {
          await this.clock.sleep(this.latencyMs, signal);
        } catch (error) {
          end();
          controller.error(error);
          return;
        }
        if (sent < answer.chunks) {
          sent++;
          controller.enqueue(
            encoder.encode(`data: {"choices":[{"delta":{"content":"x"}}],"usage":null}\n\n`),
          );
          return;
        }
        controller.enqueue(
          encoder.encode(
            `data: {"choices":[],"usage":{"total_tokens":${answer.usageTokens}}}\n\ndata: [DONE]\n\n`,
          ),
        );
        end();
        controller.close();
      },
      cancel: end,
    });
    return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
  }
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

/**
 * What an SDK with default settings does around its fetch (openai-node's loop, on the fake
 * clock): up to `maxRetries` retries on 408/409/429/≥500 and connection errors, waiting
 * `retry-after-ms` or `0.5 × 2^n` s, each retry sending `X-Stainless-Retry-Count`. Resolves with
 * the final response or rejects with the final error.
 */
export async function sdkCall(
  fetch: FetchFunction,
  clock: FakeClock,
  body: unknown,
  options: { maxRetries?: number; signal?: AbortSignal } = {},
): Promise<Response> {
  const maxRetries = options.maxRetries ?? 2;
  for (let retry = 0; ; retry++) {
    let response: Response | undefined;
    let failure: unknown;
    try {
      response = await fetch('https://api.example/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-stainless-retry-count': String(retry) },
        body: JSON.stringify(body),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      failure = error;
    }
    const retryable =
      response === undefined || [408, 409, 429].includes(response.status) || response.status >= 500;
    if (!retryable || retry >= maxRetries) {
      if (response) return response;
      throw failure;
    }
    const retryAfter = Number(response?.headers.get('retry-after-ms'));
    await response?.body?.cancel();
    await clock.sleep(
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : 500 * 2 ** retry,
      options.signal,
    );
  }
}
