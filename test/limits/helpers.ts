import { FakeClock } from '../../src/testing/fake-clock';
import type { Lease } from '../../src/limits/lease';
import { Limiter } from '../../src/limits/limiter';
import type { LimiterOptions } from '../../src/limits/limiter-options';
import { MemoryStore } from '../../src/stores/memory-store';
import type {
  ReleaseRequest,
  Store,
  StoreHandle,
  TryAcquireRequest,
  WindowSpec,
} from '../../src/stores/store';

/** A limiter on a fresh fake clock. */
export function setup(options: LimiterOptions = {}): { clock: FakeClock; limiter: Limiter } {
  const clock = new FakeClock();
  return { clock, limiter: new Limiter({ clock, ...options }) };
}

/** Lets promise chains run without moving the clock. */
export function flush(clock: FakeClock): Promise<void> {
  return clock.advance(0);
}

/** Tracks how an acquire settled, so tests can look without awaiting. */
export interface Tracked {
  readonly promise: Promise<Lease>;
  lease: Lease | undefined;
  error: unknown;
  settled: boolean;
}

export function track(promise: Promise<Lease>): Tracked {
  const t: Tracked = { promise, lease: undefined, error: undefined, settled: false };
  promise.then(
    (lease) => {
      t.lease = lease;
      t.settled = true;
    },
    (error: unknown) => {
      t.error = error;
      t.settled = true;
    },
  );
  return t;
}

/**
 * The memory store behind promises: every answer arrives a microtask later (and, with `delayMs`,
 * after fake time passes), as a remote store's would. Exercises the limiter's async path.
 */
export class AsyncMemoryStore implements Store {
  /** The synchronous store underneath (same names, same state). */
  readonly inner = new MemoryStore();
  /** Every tryAcquire the limiter sent. */
  calls = 0;

  constructor(
    private readonly clock?: FakeClock,
    private readonly delayMs = 0,
  ) {}

  bind(name: string, windows: readonly WindowSpec[]): StoreHandle {
    const inner = this.inner.bind(name, windows);
    const later = async <T>(fn: () => T | Promise<T>): Promise<T> => {
      if (this.clock && this.delayMs > 0) await this.clock.sleep(this.delayMs);
      else await Promise.resolve();
      return await fn();
    };
    return {
      tracksLeases: true,
      tryAcquire: (request: TryAcquireRequest) => {
        this.calls++;
        const copy = { ...request };
        return later(() => inner.tryAcquire({ ...copy, nowMs: this.clock ? this.clock.now() : copy.nowMs }));
      },
      release: (request: ReleaseRequest) => later(() => inner.release(request)),
      pause: (nowMs: number, durationMs: number) => later(() => inner.pause(nowMs, durationMs)),
      snapshot: (nowMs: number) => later(() => inner.snapshot(nowMs)),
      getLevel: () => later(() => inner.getLevel()),
      setLevel: (level: number) => later(() => inner.setLevel(level)),
    };
  }
}
