import { SlidingWindowLog } from './sliding-window-log';
import type {
  ReleaseRequest,
  Store,
  StoreHandle,
  StoreSnapshot,
  TryAcquireRequest,
  TryAcquireResult,
  WindowSpec,
} from './store';

/** The state of one limiter name: what every handle bound to that name shares. */
class NamedState {
  active = 0;
  pausedUntil = -Infinity;
  level: number | undefined;
  /** Limiters waiting for capacity that another handle of this name may free (see `subscribe`). */
  readonly listeners = new Set<{ handle: MemoryStoreHandle; onCapacity: () => void }>();
  /** Window logs by `resource` and `windowMs` (the same identity the Redis key layout uses). */
  readonly logs = new Map<string, SlidingWindowLog>();

  logFor(window: WindowSpec): SlidingWindowLog {
    const id = `${window.resource}\u0000${window.windowMs}`;
    let log = this.logs.get(id);
    if (!log) this.logs.set(id, (log = new SlidingWindowLog(window.windowMs)));
    return log;
  }
}

const NO_ENTRIES: readonly number[] = [];
const OK_NO_ENTRIES: TryAcquireResult = { ok: true, entries: NO_ENTRIES };

/** One limiter's view of a name's state in a {@link MemoryStore}; every call answers synchronously. */
export class MemoryStoreHandle implements StoreHandle {
  readonly tracksLeases = false;
  private readonly logs: SlidingWindowLog[];
  private readonly limits: number[];
  /** This handle's own entries in the name's listeners (a release wakes only the others). */
  private ownListeners = 0;

  constructor(
    private readonly state: NamedState,
    windows: readonly WindowSpec[],
  ) {
    this.logs = windows.map((w) => state.logFor(w));
    this.limits = windows.map((w) => w.limit);
  }

  setLimit(index: number, limit: number): void {
    this.limits[index] = limit;
  }

  extendWindows(extraMs: number): void {
    for (const log of this.logs) log.extendBy(extraMs);
  }

  tryAcquire(request: TryAcquireRequest): TryAcquireResult {
    const { nowMs, costs } = request;
    const state = this.state;
    if (nowMs < state.pausedUntil) return { ok: false, reason: 'paused', waitMs: state.pausedUntil - nowMs };
    const logs = this.logs;
    const n = logs.length;
    let waitMs = 0;
    for (let i = 0; i < n; i++) {
      const w = logs[i]!.waitMs(nowMs, costs[i]!, this.limits[i]!);
      if (w > waitMs) waitMs = w;
    }
    if (waitMs > 0) return { ok: false, reason: 'window', waitMs };
    if (state.active >= request.maxConcurrent) return { ok: false, reason: 'concurrency', waitMs: Infinity };
    state.active++;
    if (n === 0) return OK_NO_ENTRIES;
    const entries = new Array<number>(n);
    for (let i = 0; i < n; i++) entries[i] = logs[i]!.add(nowMs, costs[i]!);
    return { ok: true, entries };
  }

  waitMs(nowMs: number, costs: readonly number[]): number {
    let waitMs = Math.max(0, this.state.pausedUntil - nowMs);
    for (let i = 0; i < this.logs.length; i++)
      waitMs = Math.max(waitMs, this.logs[i]!.waitMs(nowMs, costs[i] ?? 0, this.limits[i]!));
    return waitMs;
  }

  release(request: ReleaseRequest): void {
    const state = this.state;
    state.active--;
    const deltas = request.deltas;
    if (deltas) {
      for (let i = 0; i < deltas.length; i++) {
        const delta = deltas[i]!;
        if (delta !== 0) this.logs[i]!.adjust(request.entries[i] ?? -1, delta, request.nowMs);
      }
    }
    const lagMs = request.arrivalLagMs;
    if (lagMs !== undefined && lagMs > 0) {
      for (let i = 0; i < this.logs.length; i++)
        this.logs[i]!.delay(request.entries[i] ?? -1, lagMs, request.nowMs);
    }
    if (state.listeners.size > this.ownListeners) this.notifyOthers();
  }

  delayEntries(
    nowMs: number,
    entries: readonly number[],
    windowIndexes: readonly number[],
    lagMs: number,
  ): void {
    for (const i of windowIndexes) this.logs[i]?.delay(entries[i] ?? -1, lagMs, nowMs);
  }

  refund(nowMs: number, entries: readonly number[], deltas: readonly number[]): void {
    for (let i = 0; i < deltas.length; i++) {
      const delta = deltas[i]!;
      if (delta !== 0) this.logs[i]!.adjust(entries[i] ?? -1, delta, nowMs);
    }
    if (this.state.listeners.size > this.ownListeners) this.notifyOthers();
  }

  /**
   * Calls `onCapacity` when another handle of the same name (another limiter sharing this store)
   * releases a slot or refunds, so a limiter whose head waits on shared concurrency is woken (its
   * own releases it sees itself; without this it would wait for a release that never comes).
   */
  subscribe(onCapacity: () => void): () => void {
    const entry = { handle: this, onCapacity };
    this.state.listeners.add(entry);
    this.ownListeners++;
    return () => {
      if (this.state.listeners.delete(entry)) this.ownListeners--;
    };
  }

  private notifyOthers(): void {
    // A microtask later: never re-enter another limiter in the middle of this one's release.
    queueMicrotask(() => {
      for (const { handle, onCapacity } of [...this.state.listeners]) if (handle !== this) onCapacity();
    });
  }

  pause(nowMs: number, durationMs: number): void {
    this.state.pausedUntil = Math.max(this.state.pausedUntil, nowMs + durationMs);
  }

  snapshot(nowMs: number): StoreSnapshot {
    return {
      active: this.state.active,
      used: this.logs.map((log) => log.used(nowMs)),
      pausedForMs: Math.max(0, this.state.pausedUntil - nowMs),
    };
  }

  getLevel(): number | undefined {
    return this.state.level;
  }

  setLevel(level: number): void {
    this.state.level = level;
  }
}

/**
 * The default store: state lives in this process and every call answers synchronously (no
 * promise on the hot path). Each limiter gets a fresh one unless you pass one; limiters given the
 * same `MemoryStore` and the same `name` share one budget, exactly as they would in Redis.
 *
 * @example
 * const store = new MemoryStore();
 * const a = new Limiter({ name: 'openai', maxPerMinute: 500, store });
 * const b = new Limiter({ name: 'openai', maxPerMinute: 500, store }); // shares a's window
 */
export class MemoryStore implements Store {
  private readonly names = new Map<string, NamedState>();

  bind(name: string, windows: readonly WindowSpec[]): MemoryStoreHandle {
    let state = this.names.get(name);
    if (!state) this.names.set(name, (state = new NamedState()));
    return new MemoryStoreHandle(state, windows);
  }
}
