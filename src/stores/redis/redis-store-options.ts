import { z } from 'zod';
import { isRecord } from '../../util/is-record';
import { opt } from '../../validation/options';
import type { RedisClient } from './script-runner';

/** What {@link RedisStore} does when Redis cannot be reached. */
export type OnStoreError = 'fail' | 'local';

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /**
   * A connected (or connecting) ioredis `Redis` or `Cluster`; the store never closes it. Until
   * `close()` the store listens to its connection events (an `error` listener among them, so ioredis
   * does not print "Unhandled error event" on every reconnect when you attached none) and fails
   * calls at once with the client's error when it cannot connect.
   */
  client: RedisClient;
  /**
   * Put before every key, e.g. `'myapp:'` (no braces, `*`, `?`, `[`, `]` or `\`). Processes share a
   * limiter when they use the same prefix and limiter `name`.
   * @default 'throttleflow:'
   */
  prefix?: string;
  /**
   * How long a concurrency lease lives without a heartbeat. A process that dies (SIGKILL, lost
   * network) frees its slots within this time; a heartbeat renews leases while their work runs.
   * @default 30_000
   */
  leaseTtlMs?: number;
  /**
   * How often held leases are renewed.
   * @default leaseTtlMs / 3
   */
  heartbeatMs?: number;
  /**
   * Redis unreachable: `'fail'` rejects acquires with {@link StoreUnavailableError} (naming the
   * address); `'local'` falls back to an in-memory limiter holding `localFraction` of every limit
   * and emits `fallback` (and `recovered` once Redis answers again). Never unlimited.
   * @default 'fail'
   */
  onStoreError?: OnStoreError;
  /**
   * Fraction of every limit (each window's limit and the concurrency limit, rounded down, at least 1)
   * that the in-memory fallback allows this process.
   * @default 1 / the number of processes seen sharing the limiter at the last contact with Redis
   * (0.5 until a heartbeat has reached Redis)
   */
  localFraction?: number;
  /**
   * A Redis call with no answer after this long counts as Redis being unavailable: the bound for a
   * Redis that is connected but silent, or a connection attempt that hangs. A connection the client
   * reports as failed (refused, reset, unknown host, bad password) fails a call at once instead.
   * @default 5_000
   */
  operationTimeoutMs?: number;
  /**
   * After a working connection is lost (a Redis restart or failover), how long calls wait for ioredis
   * to reconnect before failing with the connection's error (never longer than `operationTimeoutMs`).
   * A client that has not connected since its last failed attempt otherwise fails calls at once.
   * `0`: fail at once whenever the latest connection attempt failed.
   * @default 1_000
   */
  reconnectGraceMs?: number;
  /**
   * Upper bound of the random delay before a waiter woken by another process's release tries
   * again, so waiters in many processes do not all retry at the same instant.
   * @default 5
   */
  wakeJitterMs?: number;
  /**
   * While the fallback is in use, how often to try Redis again.
   * @default 1_000
   */
  recheckMs?: number;
}

/** Validates {@link RedisStoreOptions} (unknown keys are an error, so a typo does not go unnoticed). */
export const redisStoreOptionsSchema = z.strictObject({
  client: opt.instance(
    (v): v is RedisClient => isRecord(v) && typeof v.evalsha === 'function',
    'an ioredis Redis or Cluster client',
  ),
  prefix: opt.string().optional(),
  leaseTtlMs: opt.positiveInt().optional(),
  heartbeatMs: opt.positiveInt().optional(),
  onStoreError: opt.oneOf(['fail', 'local'] as const).optional(),
  localFraction: opt
    .fraction()
    .refine((v) => v > 0, 'localFraction must be greater than 0')
    .optional(),
  operationTimeoutMs: opt.positiveInt().optional(),
  reconnectGraceMs: opt.nonNegativeNumber().optional(),
  wakeJitterMs: opt.nonNegativeNumber().optional(),
  recheckMs: opt.positiveInt().optional(),
});
