/**
 * The limiter on stores other than its own private MemoryStore: several limiters sharing one
 * MemoryStore name (shared concurrency, shared windows), and a store that answers later (as Redis
 * does), where a pause or a shrink can happen while the store is deciding.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isAbortError } from '../../src/errors/abort-error';
import { isLimiterTimeoutError } from '../../src/errors/limiter-timeout-error';
import { FakeClock } from '../../src/testing/fake-clock';
import { Limiter } from '../../src/limits/limiter';
import { MemoryStore } from '../../src/stores/memory-store';
import type { Store, StoreHandle, WindowSpec } from '../../src/stores/store';
import {
  actsLimiter,
  expectNothingLeft,
  limiterActs,
  runLimiterActs,
  windowOverfills,
} from '../support/limiter-acts';

/** The memory store, answering every call `delayMs` of fake time later (decided then, like a remote store). */
class LaggingStore implements Store {
  readonly inner = new MemoryStore();
  constructor(
    private readonly clock: FakeClock,
    private readonly delayMs: () => number,
  ) {}

  bind(name: string, windows: readonly WindowSpec[]): StoreHandle {
    const inner = this.inner.bind(name, windows);
    const later = async <T>(fn: () => T): Promise<T> => {
      await this.clock.sleep(this.delayMs());
      return fn();
    };
    return {
      tracksLeases: true,
      tryAcquire: (r) => {
        const costs = [...r.costs];
        const maxConcurrent = r.maxConcurrent;
        return later(() => inner.tryAcquire({ nowMs: this.clock.now(), leaseId: '', costs, maxConcurrent }));
      },
      release: (r) => {
        const copy = { ...r, entries: [...r.entries], deltas: r.deltas && [...r.deltas] };
        return later(() => inner.release({ ...copy, nowMs: this.clock.now() }));
      },
      pause: (nowMs, ms) => later(() => inner.pause(nowMs, ms)),
      snapshot: (nowMs) => later(() => inner.snapshot(nowMs)),
      getLevel: () => later(() => inner.getLevel()),
      setLevel: (level) => later(() => inner.setLevel(level)),
    };
  }
}

describe('limiters sharing one MemoryStore name', () => {
  it('a limiter waiting on shared concurrency starts when another limiter releases (it used to wait forever)', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    const x = new Limiter({ clock, store, name: 'shared', maxConcurrent: 1 });
    const y = new Limiter({ clock, store, name: 'shared', maxConcurrent: 1 });
    const held = await x.acquire();
    let startedAt = -1;
    void y.acquire().then(() => (startedAt = clock.now()));
    await clock.advance(500);
    expect(startedAt).toBe(-1);
    expect(y.stats()).toMatchObject({ active: 1, queued: 1 });
    held.release();
    await clock.advance(0);
    expect(startedAt).toBe(500);
    expect(y.stats()).toMatchObject({ active: 1, queued: 0 });
  });

  it("a refund by one limiter ('both') wakes another's token waiter at once, not when the window slides", async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    const opts = {
      clock,
      store,
      name: 'tpm',
      windows: [{ resource: 'tokens', limit: 100, windowMs: 10_000 }],
      windowMarginMs: 0,
      reconcile: 'both' as const,
    };
    const x = new Limiter(opts);
    const y = new Limiter(opts);
    const big = await x.acquire({ tokens: 90 });
    let startedAt = -1;
    void y.acquire({ tokens: 50 }).then(() => (startedAt = clock.now()));
    await clock.advance(1000);
    expect(startedAt).toBe(-1);
    big.release({ tokens: 20 }); // used 20 of the 90 estimated: 70 back
    await clock.advance(0);
    expect(startedAt).toBe(1000);
    expect(y.stats().tokensInWindow).toBe(70);
  });

  it('a release that frees nothing another limiter needs changes nothing for it (window-blocked waiter keeps its exact time)', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    const opts = { clock, store, name: 'rpm', maxPerWindow: 1, windowMs: 1000, windowMarginMs: 0 };
    const x = new Limiter(opts);
    const y = new Limiter(opts);
    const lease = await x.acquire();
    let startedAt = -1;
    void y.acquire().then(() => (startedAt = clock.now()));
    await clock.advance(100);
    lease.release();
    await clock.advance(0);
    expect(startedAt).toBe(-1);
    await clock.advance(899);
    expect(startedAt).toBe(-1);
    await clock.advance(1);
    expect(startedAt).toBe(1000);
  });

  it('property: limiters sharing concurrency never exceed it together, never idle while one waits, and all settle', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(
          fc.record({
            at: fc.integer({ min: 0, max: 300 }),
            limiter: fc.nat(),
            durationMs: fc.integer({ min: 0, max: 120 }),
            timeoutMs: fc.option(fc.integer({ min: 0, max: 200 }), { nil: undefined, freq: 3 }),
            abortAfterMs: fc.option(fc.integer({ min: 0, max: 150 }), { nil: undefined, freq: 4 }),
          }),
          { minLength: 1, maxLength: 25 },
        ),
        async (count, max, arrivals) => {
          const clock = new FakeClock();
          const store = new MemoryStore();
          const limiters = Array.from(
            { length: count },
            () => new Limiter({ clock, store, name: 'p', maxConcurrent: max }),
          );
          let inFlight = 0;
          let settled = 0;
          const failures: string[] = [];
          const check = () => {
            const waiting = limiters.reduce((n, l) => n + l.stats().queued, 0);
            if (waiting > 0 && inFlight < max)
              failures.push(`t=${clock.now()}: ${inFlight}/${max} in flight while ${waiting} wait`);
          };
          for (const a of [...arrivals].sort((p, q) => p.at - q.at)) {
            await clock.advanceTo(a.at);
            check();
            const controller = new AbortController();
            if (a.abortAfterMs !== undefined) void clock.sleep(a.abortAfterMs).then(() => controller.abort());
            limiters[a.limiter % count]!.acquire({ timeoutMs: a.timeoutMs, signal: controller.signal }).then(
              async (lease) => {
                settled++;
                inFlight++;
                if (inFlight > max) failures.push(`t=${clock.now()}: ${inFlight} in flight > ${max}`);
                await clock.sleep(a.durationMs);
                inFlight--;
                lease.release();
              },
              (error: unknown) => {
                settled++;
                if (!isAbortError(error) && !isLimiterTimeoutError(error))
                  failures.push(`rejected with ${String(error)}`);
              },
            );
            await clock.advance(0);
            check();
          }
          for (let guard = 0; guard < 1000 && clock.nextDueAt !== undefined; guard++) {
            await clock.advanceTo(clock.nextDueAt);
            check();
          }
          await clock.advance(0);
          expect(failures).toEqual([]);
          expect(settled).toBe(arrivals.length);
          for (const l of limiters) expect(l.stats()).toMatchObject({ active: 0, queued: 0 });
          expect(clock.pendingSleeps).toBe(0);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('a store that answers later (remote)', () => {
  it('a grant that arrives after a pause began is handed back; the waiter starts when the pause ends', async () => {
    const clock = new FakeClock();
    const store = new LaggingStore(clock, () => 5);
    const limiter = new Limiter({ clock, store, maxPerWindow: 10, windowMs: 60_000, windowMarginMs: 0 });
    let startedAt = -1;
    void limiter.acquire().then(() => (startedAt = clock.now()));
    await clock.advance(2); // the store is deciding (it answers at 5)
    limiter.pause(100);
    await clock.advance(10);
    expect(startedAt).toBe(-1);
    // The charge of the handed-back grant was refunded: only the real start counts.
    await clock.advanceTo(200);
    expect(startedAt).toBeGreaterThanOrEqual(102);
    expect(store.inner.bind('limiter', limiter.windows).snapshot(clock.now()).used).toEqual([1]);
  });

  it('a grant that arrives after a shrink is handed back; nobody new starts above the new limit', async () => {
    const clock = new FakeClock();
    const store = new LaggingStore(clock, () => 5);
    const limiter = new Limiter({ clock, store, maxConcurrent: 2 });
    const first = limiter.acquire();
    await clock.advance(5);
    const held = await first;
    let startedAt = -1;
    void limiter.acquire().then(() => (startedAt = clock.now()));
    await clock.advance(2); // asked with maxConcurrent 2; answers at 10
    limiter.setMaxConcurrent(1);
    await clock.advance(50);
    expect(startedAt).toBe(-1);
    expect(store.inner.bind('limiter', []).snapshot(clock.now()).active).toBe(1);
    held.release();
    await clock.advance(50);
    expect(startedAt).toBeGreaterThan(57);
    expect(limiter.stats()).toMatchObject({ active: 1, queued: 0 });
  });

  it('property: with random store latency, no window overfills, no start in a pause or above the limit, everything settles', async () => {
    const act = limiterActs({
      atMax: 400,
      durationMsMax: 150,
      timeoutMsMax: 300,
      abortAfterMsMax: 200,
      resizeToMax: 4,
      pauseMsMax: 150,
      acquireWeight: 6,
    });
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 30, max: 200 }),
        fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 1, maxLength: 8 }),
        fc.array(act, { minLength: 1, maxLength: 25 }),
        async (maxConcurrent, perWindow, windowMs, delays, acts) => {
          const clock = new FakeClock();
          let d = 0;
          const store = new LaggingStore(clock, () => delays[d++ % delays.length]!);
          const tokenLimit = 100;
          const limiter = actsLimiter(clock, store, maxConcurrent, perWindow, windowMs, tokenLimit);
          let inFlight = 0;
          const starts: { at: number; tokens: number }[] = [];
          const failures: string[] = [];
          let settled = 0;
          let acquires = 0;
          await runLimiterActs(clock, limiter, maxConcurrent, acts, (a, run) => {
            acquires++;
            const controller = new AbortController();
            if (a.abortAfterMs !== undefined) void clock.sleep(a.abortAfterMs).then(() => controller.abort());
            limiter
              .acquire({
                tokens: a.tokens,
                priority: a.priority,
                timeoutMs: a.timeoutMs,
                signal: controller.signal,
              })
              .then(
                async (lease) => {
                  settled++;
                  const now = clock.now();
                  if (inFlight >= run.limit)
                    failures.push(`t=${now}: started with ${inFlight} in flight at limit ${run.limit}`);
                  if (run.pauses.some(([from, until]) => now >= from && now < until))
                    failures.push(`t=${now}: started during a pause`);
                  starts.push({ at: now, tokens: a.tokens });
                  inFlight++;
                  await clock.sleep(a.durationMs);
                  inFlight--;
                  lease.release();
                },
                (error: unknown) => {
                  settled++;
                  if (!isAbortError(error) && !isLimiterTimeoutError(error))
                    failures.push(`rejected with ${String(error)}`);
                },
              );
          });
          failures.push(...windowOverfills(starts, windowMs, perWindow, tokenLimit));
          expect(failures).toEqual([]);
          expect(settled).toBe(acquires);
          expectNothingLeft(clock, limiter, store.inner);
        },
      ),
      { numRuns: 150 },
    );
  });
});
