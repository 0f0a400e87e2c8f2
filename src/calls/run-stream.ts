import type { Lease } from '../limits/lease';
import type { AcquireOptions, Limiter } from '../limits/limiter';
import { StreamUsage } from './stream-usage';
import { InvalidOptionError } from '../validation/options';

/** Options of {@link runStream}: the acquire's, and how to read usage from the chunks. @category Calls */
export interface RunStreamOptions<C> extends AcquireOptions {
  /**
   * Tokens used so far, read from one chunk (`undefined` when the chunk does not say); the last
   * defined answer reconciles the lease's estimate when the stream ends.
   * @default the usage chunks of OpenAI, Anthropic, Gemini and the Vercel AI SDK (see {@link StreamUsage})
   */
  usageOf?: (chunk: C) => number | undefined;
}

/**
 * A streaming response that holds its limiter slot: iterate it once (`for await`). The slot is
 * released when the stream ends, fails, or is left early (`break`, {@link cancel},
 * `await using`), with the tokens its usage chunks reported.
 * @category Calls
 */
export interface HeldStream<C> extends AsyncIterable<C>, AsyncDisposable {
  /** The lease the stream holds. */
  readonly lease: Lease;
  /** Tokens the chunks reported so far (`undefined` until one did). */
  readonly tokensUsed: number | undefined;
  /** Closes the response (its iterator's `return()`) and releases the slot; safe to call twice. */
  cancel(): Promise<void>;
}

/**
 * Runs a streaming call through `limiter`: acquires a slot, calls `fn`, and returns its stream
 * wrapped so the slot stays held until the stream ends or fails — a stream is in flight at the
 * provider until its last chunk — then releases it, reconciling the token estimate with the usage
 * of the final chunks (OpenAI's `usage` chunk, Anthropic's `message_delta`, …).
 *
 * If `fn` throws, the slot is released at once. A stream that is neither consumed nor cancelled
 * keeps its slot: iterate it, or use `await using`.
 *
 * @example
 * const stream = await runStream(limiter, () => openai.chat.completions.create({
 *   model, messages, stream: true, stream_options: { include_usage: true },
 * }), { tokens: 1200 });
 * for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta?.content ?? '');
 * @category Calls
 */
export async function runStream<C>(
  limiter: Limiter,
  fn: (lease: Lease) => AsyncIterable<C> | PromiseLike<AsyncIterable<C>>,
  options: RunStreamOptions<C> = {},
): Promise<HeldStream<C>> {
  const { usageOf, ...acquire } = options;
  const lease = await limiter.acquire(acquire);
  let source: AsyncIterable<C>;
  try {
    source = await fn(lease);
    if (
      typeof (source as { [Symbol.asyncIterator]?: unknown } | null)?.[Symbol.asyncIterator] !== 'function'
    ) {
      throw new InvalidOptionError(
        'fn',
        `runStream: fn must return an async iterable (a streaming response), got ${describe(source)}`,
      );
    }
  } catch (error) {
    lease.release();
    throw error;
  }
  return new LeasedStream(source, lease, usageOf);
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  return typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
}

class LeasedStream<C> implements HeldStream<C> {
  private iterator: AsyncIterator<C> | undefined;
  private iterated = false;
  private readonly usage = new StreamUsage();
  private reported: number | undefined;

  constructor(
    private readonly source: AsyncIterable<C>,
    readonly lease: Lease,
    private readonly usageOf: ((chunk: C) => number | undefined) | undefined,
  ) {}

  get tokensUsed(): number | undefined {
    return this.usageOf ? this.reported : this.usage.tokens;
  }

  [Symbol.asyncIterator](): AsyncIterator<C> {
    // Ended, failed or cancelled: nothing more to read.
    if (this.lease.isReleased) return { next: async () => ({ done: true, value: undefined }) };
    if (this.iterated) throw new TypeError('runStream: a stream can be iterated only once');
    this.iterated = true;
    const inner = (this.iterator = this.source[Symbol.asyncIterator]());
    return {
      next: async () => {
        if (this.lease.isReleased) return { done: true, value: undefined };
        let step: IteratorResult<C>;
        try {
          step = await inner.next();
        } catch (error) {
          this.finish();
          throw error;
        }
        if (step.done) this.finish();
        else this.count(step.value);
        return step;
      },
      return: async (value?: unknown) => {
        await this.close();
        return { done: true, value: value as C };
      },
    };
  }

  async cancel(): Promise<void> {
    if (!this.iterated) {
      // Never iterated: open its iterator only to close it (that is what aborts an SDK's response).
      this.iterated = true;
      if (!this.lease.isReleased) this.iterator = this.source[Symbol.asyncIterator]();
    }
    await this.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.cancel();
  }

  /** Closes the source (when still open) and releases the slot, even if closing fails. */
  private async close(): Promise<void> {
    if (this.lease.isReleased) return;
    try {
      await this.iterator?.return?.();
    } finally {
      this.finish();
    }
  }

  private count(chunk: C): void {
    try {
      if (!this.usageOf) this.usage.add(chunk);
      else this.reported = this.usageOf(chunk) ?? this.reported;
    } catch {
      // Accounting only: a broken usageOf must not break the stream.
    }
  }

  private finish(): void {
    const tokens = this.tokensUsed;
    this.lease.release(tokens === undefined ? undefined : { tokens });
  }
}
