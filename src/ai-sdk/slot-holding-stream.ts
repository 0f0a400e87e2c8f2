import { isRecord } from '../util/is-record';

/** How a held stream ended: the usage its `finish` part reported, and the error it ended with. */
export interface StreamEnd {
  /** The `usage` of the finish part (`undefined` without one). */
  usage: unknown;
  /** The stream's `error` part or read failure; `undefined` when it finished or was cancelled. */
  error: unknown;
}

/**
 * `source` passed through part by part, calling `onEnd` exactly once when the call is over at the
 * provider: at the `finish` part (with its usage), an `error` part, the end of the stream, a
 * failed read, or a cancel by the reader. Until then the caller's slot stays held: a streamed
 * answer is in flight at the provider until its last part.
 */
export function holdUntilStreamEnds(
  source: ReadableStream<unknown>,
  onEnd: (end: StreamEnd) => void,
): ReadableStream<unknown> {
  const reader = source.getReader();
  let ended = false;
  const end = (usage: unknown, error: unknown): void => {
    if (ended) return;
    ended = true;
    onEnd({ usage, error });
  };
  return new ReadableStream<unknown>({
    async pull(controller) {
      let step: ReadableStreamReadResult<unknown>;
      try {
        step = await reader.read();
      } catch (error) {
        end(undefined, error);
        throw error;
      }
      if (step.done) {
        end(undefined, undefined);
        controller.close();
        return;
      }
      const part = step.value;
      if (isRecord(part) && part.type === 'finish') end(part.usage, undefined);
      else if (isRecord(part) && part.type === 'error') end(undefined, part.error);
      controller.enqueue(part);
    },
    async cancel(reason) {
      end(undefined, undefined);
      await reader.cancel(reason);
    },
  });
}
