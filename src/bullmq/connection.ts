import type { ConnectionOptions } from 'bullmq';
import { describeAddress } from '../stores/redis/redis-address';
import type { RedisClient } from '../stores/redis/script-runner';
import { StoreUnavailableError } from '../stores/redis/store-unavailable-error';
import { isRecord } from '../util/is-record';

/** Anything that emits `error`, as BullMQ's Queue and QueueEvents do. */
interface ErrorSource {
  on(event: 'error', listener: (error: Error) => void): unknown;
  off(event: 'error', listener: (error: Error) => void): unknown;
}

/** `host:port` of a BullMQ connection (an ioredis client, a Cluster, or options), for error messages. */
export function connectionAddress(connection: ConnectionOptions): string {
  const value = connection as unknown;
  if (!isRecord(value)) return 'unknown address';
  if (typeof value.duplicate === 'function') return describeAddress(value as unknown as RedisClient);
  // ioredis options, with BullMQ's defaults (BullMQ also takes a `url`).
  if (typeof value.url === 'string') {
    try {
      const url = new URL(value.url);
      return `${url.hostname}:${url.port || 6379}`;
    } catch {
      return 'an invalid url';
    }
  }
  if (typeof value.path === 'string') return value.path;
  const host = typeof value.host === 'string' ? value.host : '127.0.0.1';
  const port = typeof value.port === 'number' ? value.port : 6379;
  return `${host}:${port}`;
}

/**
 * Resolves with `work` or rejects with a {@link StoreUnavailableError} naming `address`: at the first
 * connection error `sources` report, or when `timeoutMs` passes with no answer. ioredis keeps
 * retrying an unreachable Redis for ever under BullMQ's settings; the producer must not hang with it.
 */
export async function withinTimeout<T>(
  work: Promise<T>,
  options: { address: string; operation: string; timeoutMs: number; sources: readonly ErrorSource[] },
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onError: ((error: Error) => void) | undefined;
  const failure = new Promise<never>((_, reject) => {
    const fail = (cause: unknown) =>
      reject(new StoreUnavailableError({ address: options.address, operation: options.operation, cause }));
    onError = (error: Error) => fail(error);
    for (const source of options.sources) source.on('error', onError);
    timer = setTimeout(() => fail(new Error(`no reply within ${options.timeoutMs} ms`)), options.timeoutMs);
  });
  try {
    return await Promise.race([work, failure]);
  } finally {
    clearTimeout(timer);
    if (onError) for (const source of options.sources) source.off('error', onError);
  }
}
