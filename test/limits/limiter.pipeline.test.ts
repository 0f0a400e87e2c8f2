/**
 * The limiter on a store that answers later (as Redis does) keeps several try-acquires in flight at
 * once and still grants strictly in queue order: a grant that comes back behind a refused (earlier)
 * waiter is handed back. On the fake clock, with a store that answers in order (like Redis, which
 * runs calls one after another on one connection) or after random, reordering delays.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isAbortError } from '../../src/errors/abort-error';
import { isLimitExceededError } from '../../src/errors/limit-exceeded-error';
import { isLimiterTimeoutError } from '../../src/errors/limiter-timeout-error';
import { FakeClock } from '../../src/testing/fake-clock';
import { Limiter } from '../../src/limits/limiter';
import { MemoryStore } from '../../src/stores/memory-store';
import type {
  ReleaseRequest,
  Store,
  StoreHandle,
  TryAcquireRequest,
  TryAcquireResult,
  WindowSpec,
} from '../../src/stores/store';
import {
  actsLimiter,
  expectNothingLeft,
  limiterActs,
  runLimiterActs,
  windowOverfills,
} from '../support/limiter-acts';

class StoreDown extends Error {
  constructor() {
    super('store down');
    this.name = 'StoreDown';
  }
}

/**
 * The memory store behind a fake network: each call is decided by the memory store `delay()` ms of
 * fake time after it was made and answered at that moment. `inOrder` keeps calls in the order they
 * were made (each decided no earlier than the one before); otherwise they may overtake each other.
 * `fails()` true makes a try-acquire fail without touching the store.
 */
class RemoteStore implements Store {
  readonly inner = new MemoryStore();
  /** Try-acquires sent and not answered yet, and the most at once. */
  inFlight = 0;
  maxInFlight = 0;
  calls = 0;
  private lastDueAt = 0;

  constructor(
    private readonly clock: FakeClock,
    private readonly inOrder: boolean,
    private readonly delay: () => number,
    private readonly fails: () => boolean = () => false,
  ) {}

  private later<T>(decide: () => T): Promise<T> {
    let dueAt = this.clock.now() + this.delay();
    if (this.inOrder) dueAt = Math.max(dueAt, this.lastDueAt);
    this.lastDueAt = Math.max(this.lastDueAt, dueAt);
    return this.clock.sleep(dueAt - this.clock.now()).then(decide);
  }

  bind(name: string, windows: readonly WindowSpec[]): StoreHandle {
    const inner = this.inner.bind(name, windows);
    return {
      tracksLeases: true,
      tryAcquire: (r: TryAcquireRequest): Promise<TryAcquireResult> => {
        const costs = [...r.costs];
        const maxConcurrent = r.maxConcurrent;
        const failing = this.fails();
        this.calls++;
        this.inFlight++;
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
        return this.later(() => {
          this.inFlight--;
          if (failing) throw new StoreDown();
          return inner.tryAcquire({ nowMs: this.clock.now(), leaseId: '', costs, maxConcurrent });
        });
      },
      release: (r: ReleaseRequest) => {
        const copy = { leaseId: r.leaseId, entries: [...r.entries], deltas: r.deltas && [...r.deltas] };
        return this.later(() => inner.release({ ...copy, nowMs: this.clock.now() }));
      },
      pause: (nowMs, ms) => this.later(() => inner.pause(this.clock.now(), ms)),
      snapshot: (nowMs) => this.later(() => inner.snapshot(nowMs)),
      getLevel: () => this.later(() => inner.getLevel()),
      setLevel: (level) => this.later(() => inner.setLevel(level)),
    };
  }
}

describe('pipelined try-acquires on a store that answers later', () => {
  it('keeps up to 64 try-acquires in flight (not one at a time) and grants them in queue order', async () => {
    const clock = new FakeClock();
    const store = new RemoteStore(clock, true, () => 5);
    const limiter = new Limiter({ clock, store, maxConcurrent: 1000 });
    const order: number[] = [];
    for (let i = 0; i < 100; i++) void limiter.acquire().then(() => order.push(i));
    await clock.advance(5);
    expect(store.maxInFlight).toBe(64);
    await clock.runAll();
    expect(order).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(limiter.stats()).toMatchObject({ active: 100, queued: 0 });
  });

  it('never asks for more than the free slots', async () => {
    const clock = new FakeClock();
    const store = new RemoteStore(clock, true, () => 5);
    const limiter = new Limiter({ clock, store, maxConcurrent: 3 });
    for (let i = 0; i < 10; i++) void limiter.acquire();
    await clock.runAll();
    expect(store.maxInFlight).toBe(3);
    expect(store.calls).toBe(3);
    expect(limiter.stats()).toMatchObject({ active: 3, queued: 7 });
  });

  it('a later waiter granted in the round where an earlier one was refused hands its grant back and waits its turn', async () => {
    const clock = new FakeClock();
    const store = new RemoteStore(clock, true, () => 5);
    const windows = [{ resource: 'tokens', limit: 100, windowMs: 1000 }];
    const limiter = new Limiter({ clock, store, windows, windowMarginMs: 0 });
    const first = limiter.acquire({ tokens: 50 });
    await clock.advance(5);
    (await first).release();
    const started: string[] = [];
    const startedAt: number[] = [];
    const a = limiter.acquire({ tokens: 60 }).then(() => (started.push('a'), startedAt.push(clock.now())));
    const b = limiter.acquire({ tokens: 10 }).then(() => (started.push('b'), startedAt.push(clock.now())));
    await clock.advance(1);
    expect(store.inFlight).toBe(2); // both asked at once
    await clock.advance(50);
    // a was refused (only 50 left), b's grant came back behind it and was handed back.
    expect(started).toEqual([]);
    expect(limiter.stats().queued).toBe(2);
    expect(store.inner.bind('limiter', limiter.windows).snapshot(clock.now()).used).toEqual([50]);
    await clock.runAll();
    await Promise.all([a, b]);
    expect(started).toEqual(['a', 'b']);
    expect(startedAt[0]).toBeGreaterThanOrEqual(1005); // when the 50 left the window
    expect(store.inner.bind('limiter', limiter.windows).snapshot(clock.now()).used).toEqual([70]);
  });

  it('a grant that waited behind a slower earlier answer (a reordering store) is handed back and tried again, not started late', async () => {
    const clock = new FakeClock();
    const delays = [10, 1, 1];
    let d = 0;
    const store = new RemoteStore(clock, false, () => delays[d++] ?? 1);
    const limiter = new Limiter({ clock, store, maxPerWindow: 5, windowMs: 1000, windowMarginMs: 0 });
    const startedAt: number[] = [];
    void limiter.acquire().then(() => startedAt.push(clock.now()));
    void limiter.acquire().then(() => startedAt.push(clock.now()));
    await clock.runAll();
    // The second was granted at 1 (counted from then) but could only start after the first, at 10:
    // it asked again and started when that answer came, at 11.
    expect(startedAt).toEqual([10, 11]);
    expect(store.calls).toBe(3);
    expect(store.inner.bind('limiter', limiter.windows).snapshot(clock.now()).used).toEqual([2]);
  });

  it('a waiter refused while a handed-back grant still held the slot is tried again when the hand-back lands (found by the property)', async () => {
    const clock = new FakeClock();
    const delays = [1, 0, 1];
    let d = 0;
    // No subscribe: nothing else would wake the waiter.
    const store = new RemoteStore(clock, false, () => delays[d++ % delays.length]!);
    const limiter = new Limiter({ clock, store, maxConcurrent: 1 });
    await clock.advanceTo(115);
    void limiter.acquire().then(async (lease) => {
      await clock.sleep(98);
      lease.release();
    });
    await clock.advanceTo(147);
    // Times out at 215, the moment its grant comes back: the grant is handed back.
    const timedOut = limiter.acquire({ timeoutMs: 68 }).catch((error: unknown) => error);
    await clock.advanceTo(148);
    let startedAt = -1;
    void limiter.acquire().then(() => (startedAt = clock.now()));
    await clock.runAll();
    expect(isLimiterTimeoutError(await timedOut)).toBe(true);
    expect(startedAt).toBeGreaterThan(215);
    expect(limiter.stats()).toMatchObject({ active: 1, queued: 0 });
  });

  it('a store error rejects only the waiter it concerns', async () => {
    const clock = new FakeClock();
    let call = 0;
    const store = new RemoteStore(
      clock,
      true,
      () => 5,
      () => ++call === 2,
    );
    const limiter = new Limiter({ clock, store, maxConcurrent: 10 });
    const all = Promise.allSettled([limiter.acquire(), limiter.acquire(), limiter.acquire()]);
    await clock.runAll();
    const results = await all;
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(StoreDown);
    expect(limiter.stats()).toMatchObject({ active: 2, queued: 0 });
  });

  it('a waiter aborted while its attempt is in flight gets nothing; its grant is handed back', async () => {
    const clock = new FakeClock();
    const store = new RemoteStore(clock, true, () => 5);
    const limiter = new Limiter({
      clock,
      store,
      maxConcurrent: 10,
      maxPerWindow: 10,
      windowMs: 60_000,
      windowMarginMs: 0,
    });
    const controller = new AbortController();
    const first = limiter.acquire();
    const aborted = limiter.acquire({ signal: controller.signal });
    const third = limiter.acquire();
    await clock.advance(2);
    controller.abort();
    await expect(aborted).rejects.toSatisfy(isAbortError);
    await clock.runAll();
    await Promise.all([first, third]);
    expect(limiter.stats()).toMatchObject({ active: 2, queued: 0 });
    const snapshot = store.inner.bind('limiter', limiter.windows).snapshot(clock.now());
    expect(snapshot).toMatchObject({ active: 2, used: [2] });
  });

  for (const inOrder of [true, false]) {
    it(`property (${inOrder ? 'answers in order, like Redis' : 'random latency, answers reordered'}): never above the concurrency limit or a window, grants in queue order, no slot leaks, everything settles`, async () => {
      const act = limiterActs({
        atMax: 300,
        costMax: 2,
        durationMsMax: 100,
        timeoutMsMax: 200,
        abortAfterMsMax: 150,
        resizeToMax: 6,
        pauseMsMax: 100,
        acquireWeight: 10,
      });
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 6 }),
          fc.integer({ min: 1, max: 6 }),
          fc.integer({ min: 20, max: 150 }),
          fc.array(fc.integer({ min: 0, max: 10 }), { minLength: 1, maxLength: 10 }),
          fc.array(fc.boolean(), { minLength: 1, maxLength: 10 }),
          fc.array(act, { minLength: 1, maxLength: 30 }),
          async (maxConcurrent, perWindow, windowMs, delays, failures, acts) => {
            const clock = new FakeClock();
            let d = 0;
            let f = 0;
            // About one try-acquire in ten fails (when the failure pattern has any true at all).
            const store = new RemoteStore(
              clock,
              inOrder,
              () => delays[d++ % delays.length]!,
              () => failures[f++ % failures.length]! && f % 5 === 0,
            );
            const tokenLimit = 100;
            const limiter = actsLimiter(clock, store, maxConcurrent, perWindow, windowMs, tokenLimit);
            interface W {
              seq: number;
              priority: number;
              settled: boolean;
            }
            const waiters: W[] = [];
            let inFlight = 0;
            const starts: { at: number; cost: number; tokens: number }[] = [];
            const problems: string[] = [];
            let acquires = 0;
            let settled = 0;
            await runLimiterActs(clock, limiter, maxConcurrent, acts, (a, run) => {
              acquires++;
              const w: W = { seq: waiters.length, priority: a.priority, settled: false };
              waiters.push(w);
              const controller = new AbortController();
              if (a.abortAfterMs !== undefined)
                void clock.sleep(a.abortAfterMs).then(() => controller.abort());
              limiter
                .acquire({
                  cost: a.cost,
                  tokens: a.tokens,
                  priority: a.priority,
                  timeoutMs: a.timeoutMs,
                  signal: controller.signal,
                })
                .then(
                  async (lease) => {
                    const now = clock.now();
                    // Strict queue order: everyone queued ahead of w when it arrived has settled.
                    for (const o of waiters) {
                      if (o.seq < w.seq && o.priority >= w.priority && !o.settled)
                        problems.push(`t=${now}: #${w.seq} started before #${o.seq}`);
                    }
                    w.settled = true;
                    settled++;
                    if (inFlight >= run.limit)
                      problems.push(`t=${now}: started with ${inFlight} in flight at limit ${run.limit}`);
                    if (run.pauses.some(([from, until]) => now >= from && now < until))
                      problems.push(`t=${now}: started during a pause`);
                    starts.push({ at: now, cost: a.cost, tokens: a.tokens });
                    inFlight++;
                    await clock.sleep(a.durationMs);
                    inFlight--;
                    lease.release();
                  },
                  (error: unknown) => {
                    w.settled = true;
                    settled++;
                    if (
                      !isAbortError(error) &&
                      !isLimiterTimeoutError(error) &&
                      !isLimitExceededError(error) &&
                      !(error instanceof StoreDown)
                    ) {
                      problems.push(`rejected with ${String(error)}`);
                    }
                  },
                );
            });
            problems.push(...windowOverfills(starts, windowMs, perWindow, tokenLimit));
            expect(problems).toEqual([]);
            expect(settled).toBe(acquires);
            expectNothingLeft(clock, limiter, store.inner);
          },
        ),
        { numRuns: 200 },
      );
    });
  }
});
