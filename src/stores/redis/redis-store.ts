import { EventEmitter } from 'eventemitter3';
import { MemoryStore } from '../memory-store';
import type { Store, StoreHandle, StoreSnapshot, WindowSpec } from '../store';
import { parseOptions } from '../../validation/options';
import { assertValidPrefix } from './keys';
import { RedisBackend } from './redis-backend';
import { RedisHandle } from './redis-handle';
import { redisStoreOptionsSchema, type OnStoreError, type RedisStoreOptions } from './redis-store-options';
import type { StoreUnavailableError } from './store-unavailable-error';

/** Events of {@link RedisStore}. */
export interface RedisStoreEvents {
  /**
   * A lease's TTL ran out while its work was still running (the heartbeat could not reach Redis
   * in time, or the event loop was blocked longer than the TTL). Its slot may already be someone
   * else's; it is not freed a second time at release.
   */
  leaseExpired: (info: { name: string; leaseId: string }) => void;
  /** Redis became unreachable and `onStoreError: 'local'` switched limiter `name` to memory. */
  fallback: (info: { name: string; address: string; fraction: number; error: StoreUnavailableError }) => void;
  /** Redis answers again: limiter `name` is shared again. */
  recovered: (info: { name: string; address: string }) => void;
  /** A background step (heartbeat, stats refresh) failed; the store keeps going. */
  error: (error: unknown) => void;
}

/**
 * Shares limiters across processes through Redis: limiters with the same `name` and the same
 * store prefix share every sliding window, the concurrency limit (as leases with a TTL, renewed by
 * a heartbeat), the pause gate and the AIMD level. Each operation is one Lua script run by SHA
 * (reloaded by itself after a Redis restart or `SCRIPT FLUSH`), timed by Redis `TIME`, so client
 * clocks do not matter. Needs `ioredis` (an optional peer dependency).
 *
 * @example
 * import { Redis } from 'ioredis';
 * import { Limiter } from 'throttleflow';
 * import { RedisStore } from 'throttleflow/redis';
 *
 * const client = new Redis();
 * client.on('error', (error) => console.warn('redis:', error.message)); // ioredis reconnects by itself
 * const store = new RedisStore({ client, prefix: 'myapp:' });
 * const limiter = new Limiter({ name: 'openai', maxConcurrent: 10, maxPerMinute: 500, store });
 */
export class RedisStore extends EventEmitter<RedisStoreEvents> implements Store {
  /** The Redis address, as used in error messages. */
  readonly address: string;
  readonly prefix: string;
  readonly leaseTtlMs: number;
  readonly onStoreError: OnStoreError;
  private readonly backend: RedisBackend;
  private readonly localFractionOption: number | undefined;
  private readonly recheckMs: number;
  private readonly memory = new MemoryStore();
  private readonly handles = new Set<RedisHandle>();

  constructor(options: RedisStoreOptions) {
    super();
    const o = parseOptions(redisStoreOptionsSchema, options, 'RedisStore');
    this.prefix = o.prefix ?? 'throttleflow:';
    assertValidPrefix(this.prefix);
    this.leaseTtlMs = o.leaseTtlMs ?? 30_000;
    this.onStoreError = o.onStoreError ?? 'fail';
    this.localFractionOption = o.localFraction;
    this.recheckMs = o.recheckMs ?? 1_000;
    this.backend = new RedisBackend({
      client: o.client,
      prefix: this.prefix,
      leaseTtlMs: this.leaseTtlMs,
      heartbeatMs: o.heartbeatMs ?? Math.max(1, Math.floor(this.leaseTtlMs / 3)),
      operationTimeoutMs: o.operationTimeoutMs ?? 5_000,
      reconnectGraceMs: o.reconnectGraceMs ?? 1_000,
      wakeJitterMs: o.wakeJitterMs ?? 5,
    });
    this.address = this.backend.address;
    this.backend.on('leaseExpired', (info) => this.emit('leaseExpired', info));
    this.backend.on('heartbeatError', (error) => this.emit('error', error));
  }

  /** The state of limiter `name` with these windows, shared with every process using the same prefix. */
  bind(name: string, windows: readonly WindowSpec[]): StoreHandle {
    const handle = new RedisHandle(this, this.backend, name, windows);
    this.handles.add(handle);
    return handle;
  }

  /** Reads limiter `name`'s shared state from Redis now: live leases, units per window, pause. */
  async snapshot(name: string, windows: readonly WindowSpec[]): Promise<StoreSnapshot> {
    return this.backend.snapshot(name, windows);
  }

  /** How many `NOSCRIPT` replies were healed by reloading a script (after a restart or `SCRIPT FLUSH`). */
  get scriptReloads(): number {
    return this.backend.scripts.stats().reloads;
  }

  /**
   * Stops the heartbeat, closes the store's own pub/sub connection and removes the store's
   * listeners from the client. Leases still held expire after `leaseTtlMs`. The ioredis client you
   * passed stays open.
   */
  async close(): Promise<void> {
    this.handles.clear();
    await this.backend.close();
  }

  /** @internal the fraction of each limit the in-memory fallback allows. */
  fallbackFraction(peers: number | undefined): number {
    if (this.localFractionOption !== undefined) return this.localFractionOption;
    return peers === undefined ? 0.5 : 1 / Math.max(1, peers);
  }

  /** @internal a fresh in-memory handle for the fallback, with the limits scaled down. */
  fallbackHandle(name: string, windows: readonly WindowSpec[], fraction: number): StoreHandle {
    return this.memory.bind(
      `${name} (local fallback)`,
      windows.map((w) => ({ ...w, limit: Math.max(1, Math.floor(w.limit * fraction)) })),
    );
  }

  /** @internal */
  get recheckIntervalMs(): number {
    return this.recheckMs;
  }
}
