import { StreamUsage } from '../calls/stream-usage';
import type { Lease } from '../limits/lease';

/** Whether a response is a server-sent event stream (a streamed model answer). */
export function isEventStream(response: Response): boolean {
  return (response.headers.get('content-type') ?? '').toLowerCase().startsWith('text/event-stream');
}

/**
 * The same response with a body that holds `lease` until it ends: a streamed answer is in flight
 * at the provider until its last event. Each event's JSON `data` is read for usage (OpenAI's
 * final usage chunk, Anthropic's `message_start` / `message_delta`, Responses'
 * `response.completed`, Gemini's `usageMetadata`), and the lease is released with it when the
 * body ends, fails, is cancelled by its reader, or `signal` aborts. The bytes pass through unchanged.
 */
export function holdLeaseUntilBodyEnds(
  response: Response,
  lease: Lease,
  signal: AbortSignal | undefined,
): Response {
  const source = response.body;
  if (!source) {
    lease.release();
    return response;
  }
  const reader = source.getReader();
  const events = new EventDataReader();
  const finish = (): void => {
    signal?.removeEventListener('abort', finish);
    const tokens = events.usage.tokens;
    lease.release(tokens === undefined ? undefined : { tokens });
  };
  signal?.addEventListener('abort', finish, { once: true });
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let step: ReadableStreamReadResult<Uint8Array>;
      try {
        step = await reader.read();
      } catch (error) {
        finish();
        controller.error(error);
        return;
      }
      if (step.done) {
        events.end();
        finish();
        controller.close();
        return;
      }
      events.push(step.value);
      controller.enqueue(step.value);
    },
    cancel(reason) {
      finish();
      return reader.cancel(reason);
    },
  });
  const held = new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
  // A Response built here has no url; the SDKs show it in errors and logs.
  Object.defineProperty(held, 'url', { value: response.url });
  return held;
}

/** Splits server-sent event bytes into events and feeds each event's JSON data to a {@link StreamUsage}. */
class EventDataReader {
  readonly usage = new StreamUsage();
  private readonly decoder = new TextDecoder();
  private pending = '';
  private data: string[] = [];

  push(bytes: Uint8Array): void {
    this.pending += this.decoder.decode(bytes, { stream: true });
    let newline = this.pending.search(/\r\n|\r|\n/);
    while (newline >= 0) {
      const line = this.pending.slice(0, newline);
      const width = this.pending.startsWith('\r\n', newline) ? 2 : 1;
      this.pending = this.pending.slice(newline + width);
      this.line(line);
      newline = this.pending.search(/\r\n|\r|\n/);
    }
  }

  end(): void {
    this.pending += this.decoder.decode();
    if (this.pending !== '') this.line(this.pending);
    this.pending = '';
    this.line('');
  }

  private line(line: string): void {
    if (line === '') {
      this.dispatch();
      return;
    }
    if (line.startsWith('data:')) this.data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
  }

  private dispatch(): void {
    const data = this.data.join('\n');
    this.data = [];
    if (data === '' || data === '[DONE]') return;
    try {
      this.usage.add(JSON.parse(data));
    } catch {
      // Not JSON: nothing to count, and the bytes pass through anyway.
    }
  }
}
