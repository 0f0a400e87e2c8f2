import { EventEmitter } from 'eventemitter3';
import type {
  AttemptResult,
  BackendSnapshot,
  IndexedAdjustment,
  ReleaseTiming,
  WindowAdjustment,
  WindowCharge,
} from './backend-types';
import { InvalidOptionError } from '../../validation/options';
import { CallBatcher, drainWithin } from './call-batcher';
import { LimiterKeys, type WindowKeyParts } from './keys';
import { LeaseHeartbeat } from './lease-heartbeat';
import { describeAddress } from './redis-address';
import { RedisCalls, type ScriptName } from './redis-calls';
import { ReleaseNotifications } from './release-notifications';
import type { RedisClient, ScriptArg, ScriptRunner } from './script-runner';
import {
  acquireSender,
  decodeAttempt,
  encodeAcquire,
  encodeRelease,
  releaseSender,
  windowKeysOf,
} from './script-protocol';

export type {
  AttemptResult,
  BackendSnapshot,
  DenyReason,
  IndexedAdjustment,
  ReleaseTiming,
  WindowAdjustment,
  WindowCharge,
} from './backend-types';

/** Events of the backend. */
export interface RedisBackendEvents {
  /** A lease's TTL ran out while its work still ran (no heartbeat reached Redis in time). */
  leaseExpired: (info: { name: string; leaseId: string }) => void;
  /** A heartbeat failed (Redis unreachable); leases stay held locally and are retried next beat. */
  heartbeatError: (error: unknown) => void;
}

/** Options of {@link RedisBackend}. */
export interface RedisBackendOptions {
  client: RedisClient;
  prefix: string;
  leaseTtlMs: number;
  /** How often held leases are renewed. */
  heartbeatMs: number;
  /** A Redis call slower than this counts as Redis being unavailable. */
  operationTimeoutMs: number;
  /** After a working connection is lost, how long calls wait for ioredis to reconnect before failing. */
  reconnectGraceMs: number;
  /** Upper bound of the random delay before a woken waiter retries. */
  wakeJitterMs: number;
}

let leaseCounter = 0;

/**
 * The Redis side of the store: runs the per-operation Lua scripts, keeps held leases alive with a
 * heartbeat, and wakes local waiters when another process frees capacity (pub/sub).
 * Policy (what to ask for, whom to serve first) stays with the Limiter.
 */
export class RedisBackend extends EventEmitter<RedisBackendEvents> {
  readonly address: string;
  /** Unique per backend: the first part of every lease id it issues. */
  readonly instanceId: string;
  private readonly calls: RedisCalls;
  private readonly leases: LeaseHeartbeat;
  private readonly notifications: ReleaseNotifications;
  private readonly keysByName = new Map<string, LimiterKeys>();
  private readonly batchers = new Map<string, CallBatcher>();

  constructor(private readonly options: RedisBackendOptions) {
    super();
    this.address = describeAddress(options.client);
    this.calls = new RedisCalls({
      client: options.client,
      address: this.address,
      operationTimeoutMs: options.operationTimeoutMs,
      reconnectGraceMs: options.reconnectGraceMs,
    });
    this.instanceId = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    this.leases = new LeaseHeartbeat({
      intervalMs: options.heartbeatMs,
      renew: (name, ids) => this.renew(name, ids),
      onExpired: (name, leaseId) => this.emit('leaseExpired', { name, leaseId }),
      onError: (error) => this.emit('heartbeatError', error),
    });
    this.notifications = new ReleaseNotifications({
      client: options.client,
      address: this.address,
      wakeJitterMs: options.wakeJitterMs,
      onError: (error) => this.emit('heartbeatError', error),
    });
  }

  /** The script runner (exposed for stats: how often NOSCRIPT was healed). */
  get scripts(): ScriptRunner<ScriptName> {
    return this.calls.scripts;
  }

  keys(name: string): LimiterKeys {
    let keys = this.keysByName.get(name);
    if (!keys) {
      keys = new LimiterKeys(this.options.prefix, name);
      this.keysByName.set(name, keys);
    }
    return keys;
  }

  /** A fresh lease id: `<instance>:<counter>`, unique across processes. */
  newLeaseId(): string {
    return `${this.instanceId}.${(++leaseCounter).toString(36)}`;
  }

  /**
   * One atomic acquire attempt (one round trip): pause gate, every window and the concurrency
   * leases. Granted leases are renewed by the heartbeat until {@link release}.
   */
  async tryAcquire(
    name: string,
    request: { leaseId?: string; windows: readonly WindowCharge[]; maxConcurrent?: number },
  ): Promise<AttemptResult> {
    const acquire = this.acquirer(name, request.windows);
    return acquire(
      request.leaseId ?? this.newLeaseId(),
      request.maxConcurrent,
      request.windows.map((w) => w.limit),
      request.windows.map((w) => w.cost),
    );
  }

  /**
   * A fast acquire for limiter `name` with these windows (what a store handle keeps): one atomic
   * attempt per call, batched with concurrent calls into one script call.
   */
  acquirer(
    name: string,
    windows: readonly WindowKeyParts[],
  ): (
    leaseId: string,
    maxConcurrent: number | undefined,
    limits: readonly number[],
    costs: readonly number[],
  ) => Promise<AttemptResult> {
    const batcher = this.batcher('acquire', name, windows);
    return async (leaseId, maxConcurrent, limits, costs) => {
      const result = decodeAttempt(
        await batcher.submit(encodeAcquire(leaseId, maxConcurrent, limits, costs)),
        leaseId,
      );
      if (result.granted) this.leases.hold(name, leaseId);
      return result;
    };
  }

  /**
   * Returns a lease and reconciles its window costs. Resolves `released: false` when the lease had
   * already expired (reported once through `leaseExpired`); it is never freed twice.
   */
  async release(
    name: string,
    leaseId: string,
    adjustments: readonly WindowAdjustment[] = [],
    timing?: ReleaseTiming,
  ): Promise<{ released: boolean }> {
    const lag = timing?.arrivalLagMs;
    const adjusted = adjustments.filter(
      (a) => a.delta !== 0 || (lag !== undefined && lag > 0 && a.charged > 0),
    );
    if (adjusted.length > 0 && timing === undefined) {
      throw new InvalidOptionError(
        'timing',
        "RedisBackend.release: adjustments need the lease's startedAt, got no timing",
      );
    }
    const release = this.releaser(name, adjusted);
    return release(
      leaseId,
      timing?.startedAt ?? 0,
      lag ?? 0,
      adjusted.map((a, i) => ({ index: i, charged: a.charged, delta: a.delta })),
    );
  }

  /**
   * A fast release for limiter `name` with these windows (what a store handle keeps): adjustments
   * name windows by index; concurrent calls are batched into one script call.
   */
  releaser(
    name: string,
    windows: readonly WindowKeyParts[],
  ): (
    leaseId: string,
    startedAt: number,
    arrivalLagMs: number,
    adjustments?: readonly IndexedAdjustment[],
  ) => Promise<{ released: boolean }> {
    const batcher = this.batcher('release', name, windows);
    return async (leaseId, startedAt, arrivalLagMs, adjustments) => {
      this.leases.drop(name, leaseId);
      const [, released] = await batcher.submit(encodeRelease(leaseId, startedAt, arrivalLagMs, adjustments));
      const wasLost = this.leases.takeLost(leaseId);
      if (released !== 1 && !wasLost) this.emit('leaseExpired', { name, leaseId });
      return { released: released === 1 };
    };
  }

  /**
   * Takes back window charges of a released lease the provider never counted (see
   * scripts/refund.lua), in every process sharing the windows; concurrency is untouched. One round
   * trip, not batched (rare: failed attempts only). Resolves the units freed.
   */
  async refund(
    name: string,
    windows: readonly WindowKeyParts[],
    leaseId: string,
    startedAt: number,
    adjustments: readonly { charged: number; delta: number }[],
  ): Promise<number> {
    const keys = this.keys(name);
    const scriptKeys = [keys.waiting, keys.extend, ...windowKeysOf(keys, windows)];
    const args: ScriptArg[] = [keys.releasedChannel, windows.length, ...windows.map((w) => w.windowMs)];
    args.push(leaseId, startedAt);
    for (const a of adjustments) args.push(a.charged, a.delta);
    return Number(await this.calls.script('refund', scriptKeys, args));
  }

  /**
   * The batcher for `operation` on limiter `name` with these windows: concurrent calls made while
   * one is in flight go to Redis together, as one script call, when it returns.
   */
  private batcher(
    operation: 'acquire' | 'release',
    name: string,
    windows: readonly WindowKeyParts[],
  ): CallBatcher {
    const id = `${operation}\u0000${name}\u0000${windows.map((w) => `${w.resource}\u0000${w.windowMs}`).join('\u0000')}`;
    let batcher = this.batchers.get(id);
    if (batcher) return batcher;
    const keys = this.keys(name);
    batcher = new CallBatcher(
      operation === 'acquire'
        ? acquireSender(this.calls, keys, windows, this.options.leaseTtlMs)
        : releaseSender(this.calls, keys, windows),
    );
    this.batchers.set(id, batcher);
    return batcher;
  }

  /** Live leases, units held per window and the pause gate, all read at one instant. */
  async snapshot(
    name: string,
    windows: readonly { resource: string; windowMs: number }[],
  ): Promise<BackendSnapshot> {
    const keys = this.keys(name);
    const scriptKeys = [keys.leases, keys.pause, keys.extend, ...windowKeysOf(keys, windows)];
    const reply = (await this.calls.script(
      'snapshot',
      scriptKeys,
      windows.map((w) => w.windowMs),
    )) as [number, number, ...string[]];
    return { active: reply[0], pausedForMs: reply[1], used: reply.slice(2).map(Number) };
  }

  /**
   * Counts every window entry of `name` `extraMs` longer, in every process (only ever grows).
   * Resolves the extension in force.
   */
  async extendWindows(name: string, extraMs: number, longestWindowMs: number): Promise<number> {
    const keys = this.keys(name);
    return Number(
      await this.calls.script(
        'extend',
        [keys.extend],
        [Math.max(0, extraMs), longestWindowMs + extraMs + 1000],
      ),
    );
  }

  /** Reads the shared AIMD level (undefined until some process sets one). */
  async getLevel(name: string): Promise<number | undefined> {
    const value = await this.calls.command('getLevel', () =>
      this.options.client.hget(this.keys(name).aimd, 'level'),
    );
    return value === null ? undefined : Number(value);
  }

  /** Writes the shared AIMD level. */
  async setLevel(name: string, level: number): Promise<void> {
    await this.calls.command('setLevel', () =>
      this.options.client.hset(this.keys(name).aimd, 'level', level),
    );
  }

  /** Closes the shared pause gate for `ms` (never shortening a longer pause); resolves the ms it stays closed. */
  async pause(name: string, ms: number): Promise<number> {
    return Number(await this.calls.script('pause', [this.keys(name).pause], [Math.max(0, Math.ceil(ms))]));
  }

  /**
   * Waits until another acquire's release is published for `name` (plus a random jitter so waiters
   * in many processes do not retry at the same instant), or `maxMs` passes. Resolves `true` when
   * woken by a release.
   */
  waitForRelease(name: string, maxMs: number, signal?: AbortSignal): Promise<boolean> {
    return this.notifications.waitFor(this.keys(name).releasedChannel, maxMs, signal);
  }

  /**
   * Calls `listener` (after a random jitter) whenever another acquire's release is published for
   * `name`. Returns a function that stops listening.
   */
  onRelease(name: string, listener: () => void): () => void {
    return this.notifications.listen(this.keys(name).releasedChannel, listener);
  }

  /** Stops the heartbeat, wakes every waiter and closes the subscriber connection (not the user's client). */
  async close(): Promise<void> {
    // Releases already made (a limiter does not await them) reach Redis before the store stops:
    // otherwise their leases would hold slots until the TTL. Bounded by the operation timeout.
    await drainWithin(this.batchers.values(), this.options.operationTimeoutMs);
    this.leases.stop();
    this.calls.close();
    await this.notifications.close();
  }

  /** True while the client is connected and ready. */
  get connected(): boolean {
    return this.options.client.status === 'ready';
  }

  /** Processes (store instances) seen sharing limiter `name` at the last heartbeat, if any beat yet. */
  peers(name: string): number | undefined {
    return this.leases.peers(name);
  }

  /** Starts the heartbeat for `name` (presence, and renewal of the leases held under it). */
  track(name: string): void {
    this.leases.track(name);
  }

  /** Leases this process holds right now (for tests and stats). */
  heldLeases(name: string): number {
    return this.leases.heldLeases(name);
  }

  /** Renews every held lease now (the heartbeat calls this every `heartbeatMs`). */
  renewAll(): Promise<void> {
    return this.leases.renewAll();
  }

  /** One renew script call for limiter `name`: lease TTLs and this instance's presence. */
  private async renew(name: string, ids: ReadonlySet<string>): Promise<{ peers: number; expired: string[] }> {
    const keys = this.keys(name);
    const presenceTtl = this.options.heartbeatMs * 3;
    const args = [this.options.leaseTtlMs, this.instanceId, presenceTtl, ...ids];
    const reply = (await this.calls.script('renew', [keys.leases, keys.clients], args)) as [
      number,
      ...string[],
    ];
    return { peers: reply[0], expired: reply.slice(1) as string[] };
  }
}
