import { SlidingWindowLog } from '../limits/sliding-window-log';
import type {
  ReleaseRequest,
  Store,
  StoreHandle,
  StoreSnapshot,
  TryAcquireRequest,
  TryAcquireResult,
  WindowSpec,
} from './store';

const NO_ENTRIES: readonly number[] = [];

/** One limiter's state in this process; every call answers synchronously. */
class MemoryHandle implements StoreHandle {
  readonly tracksLeases = false;
  private readonly logs: SlidingWindowLog[];
  private active = 0;
  private pausedUntil = -Infinity;
  private level: number | undefined;

  constructor(windows: readonly WindowSpec[]) {
    this.logs = windows.map((w) => new SlidingWindowLog(w.limit, w.windowMs));
  }

  tryAcquire(request: TryAcquireRequest): TryAcquireResult {
    const { nowMs, costs } = request;
    if (nowMs < this.pausedUntil) return { ok: false, reason: 'paused', waitMs: this.pausedUntil - nowMs };
    const logs = this.logs;
    let waitMs = 0;
    for (let i = 0; i < logs.length; i++) {
      const w = logs[i]!.waitMs(nowMs, costs[i]!);
      if (w > waitMs) waitMs = w;
    }
    if (waitMs > 0) return { ok: false, reason: 'window', waitMs };
    if (this.active >= request.maxConcurrent) return { ok: false, reason: 'concurrency', waitMs: Infinity };
    this.active++;
    if (logs.length === 0) return OK_NO_ENTRIES;
    const entries = new Array<number>(logs.length);
    for (let i = 0; i < logs.length; i++) entries[i] = logs[i]!.add(nowMs, costs[i]!);
    return { ok: true, entries };
  }

  release(request: ReleaseRequest): void {
    this.active--;
    const deltas = request.deltas;
    if (!deltas) return;
    for (let i = 0; i < deltas.length; i++) {
      const delta = deltas[i]!;
      if (delta !== 0) this.logs[i]!.adjust(request.entries[i] ?? -1, delta, request.nowMs);
    }
  }

  pause(nowMs: number, durationMs: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, nowMs + durationMs);
  }

  snapshot(nowMs: number): StoreSnapshot {
    return {
      active: this.active,
      used: this.logs.map((log) => log.used(nowMs)),
      pausedForMs: Math.max(0, this.pausedUntil - nowMs),
    };
  }

  getLevel(): number | undefined {
    return this.level;
  }

  setLevel(level: number): void {
    this.level = level;
  }
}

const OK_NO_ENTRIES: TryAcquireResult = { ok: true, entries: NO_ENTRIES };

/**
 * The default store: state lives in this process, each limiter alone (two limiters never
 * share state here, even with the same name — use a shared store such as RedisStore for that).
 */
export class MemoryStore implements Store {
  bind(_name: string, windows: readonly WindowSpec[]): StoreHandle {
    return new MemoryHandle(windows);
  }
}
