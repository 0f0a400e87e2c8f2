/**
 * The store contract: the same tests for every `Store` (the in-memory reference and RedisStore on a
 * real Redis, no mocks). Each store file calls {@link describeStoreContract} with a factory.
 *
 * Everything runs on real time, because a remote store keeps its own clock (Redis `TIME`): windows
 * are short (100–400 ms) and the memory store is given `performance.now()` as `nowMs`. Assertions
 * are on counts and limits; where a time matters the check is sound under any scheduling delay
 * (a grant happened somewhere between sending the request and reading the reply).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Limiter } from '../../src/limits/limiter';
import type {
  ReleaseRequest,
  Store,
  StoreHandle,
  TryAcquireRequest,
  TryAcquireResult,
  WindowSpec,
} from '../../src/stores/store';

/** What a store file provides: a store to test, and how to tear it down. */
export interface StoreContractSetup {
  store: Store;
  /** Called once after the suite. */
  cleanup?: () => Promise<void> | void;
}

/** Options of the contract run. */
export interface StoreContractOptions {
  /** `describe` to use (e.g. one that skips when Redis is unreachable). @default describe */
  describe?: typeof describe;
  /** Runs per fast-check property. @default 12 */
  numRuns?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));
const now = () => performance.now();

let nameCounter = 0;
/** A limiter name no other test (or earlier run of this one) uses. */
export function freshName(tag: string): string {
  return `contract-${tag}-${process.pid}-${Date.now().toString(36)}-${++nameCounter}`;
}

let leaseCounter = 0;
function request(costs: readonly number[], maxConcurrent = Infinity): TryAcquireRequest {
  return { nowMs: now(), leaseId: `c${process.pid}.${++leaseCounter}`, costs, maxConcurrent };
}

/** One granted or refused attempt with the local time bounds of the call. */
interface Attempt {
  sentAt: number;
  repliedAt: number;
  request: TryAcquireRequest;
  result: TryAcquireResult;
}

async function attempt(
  handle: StoreHandle,
  costs: readonly number[],
  maxConcurrent = Infinity,
): Promise<Attempt> {
  const req = request(costs, maxConcurrent);
  const sentAt = now();
  const result = await handle.tryAcquire({ ...req, nowMs: sentAt });
  return { sentAt, repliedAt: now(), request: req, result };
}

function releaseOf(a: Attempt, deltas?: readonly number[]): ReleaseRequest {
  if (!a.result.ok) throw new Error('releasing a refused attempt');
  return { nowMs: now(), leaseId: a.request.leaseId, entries: a.result.entries, deltas };
}

/** Retries after each returned wait until granted (a timer may fire a hair early); returns the tries. */
async function acquireAfterWaits(
  handle: StoreHandle,
  costs: readonly number[],
  maxTries = 3,
): Promise<{ tries: number; last: Attempt }> {
  let last = await attempt(handle, costs);
  let tries = 1;
  while (!last.result.ok && tries < maxTries) {
    await sleep(last.result.waitMs + 1);
    last = await attempt(handle, costs);
    tries++;
  }
  return { tries, last };
}

/**
 * Sound check of "at most `limit` units start in any half-open window of `windowMs`": a set of
 * grants is certainly inside one window when its latest reply minus its earliest send is below
 * `windowMs` (each grant happened between its send and its reply). Returns the largest such sum.
 */
export function maxCertainlyInOneWindow(
  grants: readonly { sentAt: number; repliedAt: number; cost: number }[],
  windowMs: number,
): number {
  const sorted = [...grants].sort((a, b) => a.sentAt - b.sentAt);
  let best = 0;
  for (let i = 0; i < sorted.length; i++) {
    const start = sorted[i]!.sentAt;
    let sum = 0;
    for (let j = i; j < sorted.length; j++) {
      const g = sorted[j]!;
      if (g.repliedAt < start + windowMs) sum += g.cost;
    }
    best = Math.max(best, sum);
  }
  return best;
}

/**
 * A store whose handles record every granted try-acquire with its send/reply times, and apply
 * release deltas to the recorded costs (a limiter hands back the whole cost of a grant that
 * arrived after its waiter gave up: that grant no longer counts).
 */
/**
 * Which grant a release is for: its lease id, or (a store that tracks no leases gives none) its
 * window entries. Matched by id alone, a late grant's hand-back in the memory store went unseen
 * and the spy counted a cost the store had already freed (a false "over the limit" under load).
 */
const grantKey = (leaseId: string, entries: readonly number[]) => leaseId || `entries:${entries.join(',')}`;

class SpyStore implements Store {
  readonly grants: { sentAt: number; repliedAt: number; costs: number[] }[] = [];
  private readonly byLease = new Map<string, { costs: number[] }>();
  /** Every try-acquire, granted or not. */
  calls = 0;
  private inFlight = 0;
  constructor(private readonly inner: Store) {}
  bind(name: string, windows: readonly WindowSpec[]): StoreHandle {
    const inner = this.inner.bind(name, windows);
    const handle: StoreHandle = {
      tracksLeases: inner.tracksLeases,
      tryAcquire: async (req) => {
        const costs = [...req.costs];
        const leaseId = req.leaseId;
        const sentAt = now();
        this.calls++;
        this.inFlight++;
        try {
          const result = await inner.tryAcquire(req);
          if (result.ok) {
            const grant = { sentAt, repliedAt: now(), costs };
            this.grants.push(grant);
            this.byLease.set(grantKey(leaseId, result.entries), grant);
          }
          return result;
        } finally {
          this.inFlight--;
        }
      },
      release: async (req) => {
        const grant = this.byLease.get(grantKey(req.leaseId, req.entries));
        req.deltas?.forEach((d, i) => {
          if (grant) grant.costs[i] = Math.max(0, grant.costs[i]! + d);
        });
        this.inFlight++;
        try {
          await inner.release(req);
        } finally {
          this.inFlight--;
        }
      },
      pause: (n, d) => inner.pause(n, d),
      snapshot: (n) => inner.snapshot(n),
      getLevel: () => inner.getLevel(),
      setLevel: (l) => inner.setLevel(l),
    };
    const subscribe = (inner as { subscribe?: (cb: () => void) => () => void }).subscribe;
    if (subscribe) Object.assign(handle, { subscribe: subscribe.bind(inner) });
    return handle;
  }

  /** Resolves once no store call is in flight (a limiter does not await the hand-back of a late grant). */
  async quiet(): Promise<void> {
    for (let i = 0; i < 500 && this.inFlight > 0; i++) await sleep(5);
  }
}

/** Runs the store contract against the store `setup` makes. */
export function describeStoreContract(
  label: string,
  setup: () => Promise<StoreContractSetup> | StoreContractSetup,
  options: StoreContractOptions = {},
): void {
  const describeFn = options.describe ?? describe;
  const numRuns = options.numRuns ?? 12;

  describeFn(`Store contract: ${label}`, () => {
    let ctx: StoreContractSetup;
    beforeAll(async () => {
      ctx = await setup();
    });
    afterAll(async () => {
      await ctx?.cleanup?.();
    });
    // Direct callers subscribe like a limiter does (a store may otherwise wait for capacity itself).
    const bind = (windows: WindowSpec[], name = freshName('t')) => {
      const handle = ctx.store.bind(name, windows);
      handle.subscribe?.(() => {});
      return handle;
    };

    it('admits exactly `limit` per window, then refuses with reason window and a wait within the window', async () => {
      const h = bind([{ resource: 'requests', limit: 3, windowMs: 300 }]);
      const results = [];
      for (let i = 0; i < 4; i++) results.push((await attempt(h, [1])).result);
      expect(results.map((r) => r.ok)).toEqual([true, true, true, false]);
      const refused = results[3]!;
      if (refused.ok) throw new Error('unreachable');
      expect(refused.reason).toBe('window');
      expect(refused.waitMs).toBeGreaterThan(0);
      expect(refused.waitMs).toBeLessThanOrEqual(300);
    });

    it('the returned wait is exact: after it the request fits', async () => {
      const h = bind([{ resource: 'requests', limit: 2, windowMs: 150 }]);
      await attempt(h, [1]);
      await attempt(h, [1]);
      const { last, tries } = await acquireAfterWaits(h, [1]);
      expect(last.result.ok).toBe(true);
      expect(tries).toBeLessThanOrEqual(3); // refused once, then at most one extra ms of timer slack
    });

    it('charges weighted costs and frees them as their entries slide out', async () => {
      const h = bind([{ resource: 'tokens', limit: 100, windowMs: 60_000 }]);
      expect((await attempt(h, [60])).result.ok).toBe(true);
      expect((await attempt(h, [30])).result.ok).toBe(true);
      const refused = (await attempt(h, [20])).result;
      expect(refused).toMatchObject({ ok: false, reason: 'window' });
      if (refused.ok) throw new Error('unreachable');
      expect(refused.waitMs).toBeGreaterThan(59_000); // the 60 must leave, not just the 30
      expect((await attempt(h, [10])).result.ok).toBe(true); // exactly 100
      expect((await attempt(h, [0])).result.ok).toBe(true); // a zero cost never overflows
      expect((await h.snapshot(now())).used).toEqual([100]);
    });

    it('answers Infinity for a cost that can never fit', async () => {
      const h = bind([{ resource: 'tokens', limit: 10, windowMs: 1000 }]);
      expect((await attempt(h, [11])).result).toEqual({ ok: false, reason: 'window', waitMs: Infinity });
    });

    it('caps concurrency and frees a slot at release', async () => {
      const h = bind([]);
      const a = await attempt(h, [], 2);
      const b = await attempt(h, [], 2);
      const c = await attempt(h, [], 2);
      expect([a.result.ok, b.result.ok, c.result.ok]).toEqual([true, true, false]);
      expect(c.result).toMatchObject({ ok: false, reason: 'concurrency' });
      if (c.result.ok) throw new Error('unreachable');
      expect(c.result.waitMs).toBeGreaterThan(0);
      expect((await h.snapshot(now())).active).toBe(2);
      await h.release(releaseOf(a));
      expect((await attempt(h, [], 2)).result.ok).toBe(true);
      expect((await h.snapshot(now())).active).toBe(2);
    });

    it('checks the pause gate first, then the windows, then concurrency', async () => {
      const h = bind([{ resource: 'requests', limit: 1, windowMs: 60_000 }]);
      expect((await attempt(h, [1], 1)).result.ok).toBe(true);
      expect((await attempt(h, [1], 1)).result).toMatchObject({ ok: false, reason: 'window' });
      expect((await attempt(h, [0], 1)).result).toMatchObject({ ok: false, reason: 'concurrency' });
      await h.pause(now(), 5_000);
      const paused = (await attempt(h, [1], 1)).result;
      expect(paused).toMatchObject({ ok: false, reason: 'paused' });
      if (paused.ok) throw new Error('unreachable');
      expect(paused.waitMs).toBeGreaterThan(4_000);
      expect(paused.waitMs).toBeLessThanOrEqual(5_000);
    });

    it('a pause extends but never shortens, and the snapshot shows it', async () => {
      const h = bind([]);
      await h.pause(now(), 3_000);
      await h.pause(now(), 10);
      const snap = await h.snapshot(now());
      expect(snap.pausedForMs).toBeGreaterThan(2_000);
      expect(snap.pausedForMs).toBeLessThanOrEqual(3_000);
      await h.pause(now(), 8_000);
      expect((await h.snapshot(now())).pausedForMs).toBeGreaterThan(7_000);
    });

    it('a short pause ends by itself', async () => {
      const h = bind([]);
      await h.pause(now(), 60);
      const { last } = await acquireAfterWaits(h, []);
      expect(last.result.ok).toBe(true);
    });

    it('reconciles at release: extra usage is charged, a refund frees room, a zero charge is added now', async () => {
      const h = bind([{ resource: 'tokens', limit: 1000, windowMs: 60_000 }]);
      const used = async () => (await h.snapshot(now())).used[0];
      const a = await attempt(h, [300]);
      await h.release(releaseOf(a, [150]));
      expect(await used()).toBe(450);
      const b = await attempt(h, [500]);
      await h.release(releaseOf(b, [-400]));
      expect(await used()).toBe(550);
      const c = await attempt(h, [0]);
      await h.release(releaseOf(c, [50]));
      expect(await used()).toBe(600);
      const d = await attempt(h, [100]);
      await h.release(releaseOf(d, [-500])); // never below zero
      expect(await used()).toBe(600);
      expect((await h.snapshot(now())).active).toBe(0);
    });

    it('shares one budget between handles bound to the same name, and none across names', async () => {
      const name = freshName('shared');
      const windows = [{ resource: 'requests', limit: 2, windowMs: 60_000 }];
      const one = bind(windows, name);
      const two = bind(windows, name);
      const other = bind(windows);
      expect((await attempt(one, [1], 3)).result.ok).toBe(true);
      expect((await attempt(two, [1], 3)).result.ok).toBe(true);
      expect((await attempt(one, [1], 3)).result).toMatchObject({ ok: false, reason: 'window' });
      expect((await attempt(other, [1], 3)).result.ok).toBe(true);
      expect((await two.snapshot(now())).active).toBe(2);
    });

    it('keeps a shared level, undefined until set', async () => {
      const name = freshName('level');
      const one = bind([], name);
      const two = bind([], name);
      expect(await one.getLevel()).toBeUndefined();
      await one.setLevel(7);
      expect(await two.getLevel()).toBe(7);
    });

    /** Takes back `deltas` of attempt `a`'s charges, as a limiter does for an uncounted attempt. */
    const refund = async (h: StoreHandle, a: Attempt, deltas: readonly number[]) => {
      // Every store of the contract implements it (the interface keeps it optional for others).
      if (!h.refund) throw new Error('this store has no refund');
      if (!a.result.ok) throw new Error('refunding a refused attempt');
      await h.refund(now(), a.result.entries, deltas, a.request.leaseId);
    };

    it('refund takes back a released charge the provider never counted, concurrency untouched', async () => {
      const h = bind([{ resource: 'requests', limit: 2, windowMs: 60_000 }]);
      const first = await attempt(h, [1], 5);
      const second = await attempt(h, [1], 5);
      expect((await attempt(h, [1], 5)).result).toMatchObject({ ok: false, reason: 'window' });
      await h.release(releaseOf(first));
      await h.release(releaseOf(second));
      await refund(h, first, [-1]);
      const snapshot = await h.snapshot(now());
      expect(snapshot.used).toEqual([1]);
      expect(snapshot.active).toBe(0);
      expect((await attempt(h, [1], 5)).result.ok).toBe(true);
      expect((await attempt(h, [1], 5)).result).toMatchObject({ ok: false, reason: 'window' });
    });

    it('a refund frees the room for every handle of the name', async () => {
      const name = freshName('refund-shared');
      const windows = [{ resource: 'requests', limit: 2, windowMs: 60_000 }];
      const one = bind(windows, name);
      const two = bind(windows, name);
      const a = await attempt(one, [1]);
      expect((await attempt(one, [1])).result.ok).toBe(true);
      expect((await attempt(two, [1])).result).toMatchObject({ ok: false, reason: 'window' });
      await one.release(releaseOf(a));
      await refund(one, a, [-1]);
      expect((await two.snapshot(now())).used).toEqual([1]);
      expect((await attempt(two, [1])).result.ok).toBe(true);
      expect((await attempt(two, [1])).result).toMatchObject({ ok: false, reason: 'window' });
    });

    it("a lease is refunded at most once and never by more than it holds (another grant's charge stays)", async () => {
      const h = bind([{ resource: 'tokens', limit: 1000, windowMs: 60_000 }]);
      // Granted together: a remote store may keep them in one entry (a batching store sends the
      // first call alone and the two behind it as one batch).
      const [, a, b] = await Promise.all([attempt(h, [0]), attempt(h, [300]), attempt(h, [50])]);
      await h.release(releaseOf(a, [-200])); // a used 100 of its 300
      await h.release(releaseOf(b));
      expect((await h.snapshot(now())).used).toEqual([150]);
      await refund(h, a, [-300]);
      await refund(h, a, [-300]);
      expect((await h.snapshot(now())).used).toEqual([50]);
    });

    it('a refund frees a charge that an arrival lag moved, where it counts now', async () => {
      const h = bind([{ resource: 'requests', limit: 1, windowMs: 300 }]);
      const a = await attempt(h, [1]);
      await h.release({ ...releaseOf(a), arrivalLagMs: 10_000 });
      await refund(h, a, [-1]);
      expect((await h.snapshot(now())).used).toEqual([0]);
      // Past the window from its start, long before the moved charge would leave: still nothing
      // counts (a refund taken off at the start would leave the moved unit counting until then).
      await sleep(350);
      expect((await h.snapshot(now())).used).toEqual([0]);
      expect((await attempt(h, [1])).result.ok).toBe(true);
    });

    it('extendWindows keeps entries counted longer, for every handle of the name', async () => {
      const name = freshName('extend');
      const windows = [{ resource: 'requests', limit: 1, windowMs: 100 }];
      const one = bind(windows, name);
      const two = bind(windows, name);
      if (!one.extendWindows) return; // optional
      expect((await attempt(one, [1])).result.ok).toBe(true);
      await one.extendWindows(400);
      await sleep(150); // past the plain window, inside the extended one
      const refused = (await attempt(two, [1])).result;
      expect(refused).toMatchObject({ ok: false, reason: 'window' });
      if (refused.ok) throw new Error('unreachable');
      expect(refused.waitMs).toBeGreaterThan(200);
      expect(refused.waitMs).toBeLessThanOrEqual(360);
    });

    it('concurrent attempts (a remote store may batch them) grant exactly what fits, in order', async () => {
      const h = bind([{ resource: 'requests', limit: 10, windowMs: 60_000 }]);
      const attempts = await Promise.all(Array.from({ length: 40 }, () => attempt(h, [1], 6)));
      const granted = attempts.filter((a) => a.result.ok);
      expect(granted).toHaveLength(6); // concurrency binds first
      for (const a of granted) await h.release(releaseOf(a));
      const more = await Promise.all(Array.from({ length: 40 }, () => attempt(h, [1], 100)));
      expect(more.filter((a) => a.result.ok)).toHaveLength(4); // then the window: 10 in all
      for (const a of more) {
        if (!a.result.ok) expect(a.result).toMatchObject({ reason: 'window' });
      }
      const snap = await h.snapshot(now());
      expect(snap).toMatchObject({ active: 4, used: [10] });
    });

    it('with no windows and no concurrency limit admits everything', async () => {
      const h = bind([]);
      const results = await Promise.all(Array.from({ length: 20 }, () => attempt(h, [])));
      expect(results.every((r) => r.result.ok)).toBe(true);
    });

    it('a Limiter waiting for a window asks the store a bounded number of times (no polling storm)', async () => {
      const spy = new SpyStore(ctx.store);
      const limiter = new Limiter({
        name: freshName('storm'),
        store: spy,
        maxPerWindow: 2,
        windowMs: 250,
        windowMarginMs: 0,
      });
      for (let i = 0; i < 3; i++) (await limiter.acquire()).release();
      // Two grants, then one refusal saying "in ~250 ms", then the grant: a few calls, not hundreds.
      expect(spy.calls).toBeGreaterThanOrEqual(3);
      expect(spy.calls).toBeLessThanOrEqual(6);
      await limiter.drain();
    });

    it('property: random acquires, releases and pauses never exceed a window or the concurrency limit', async () => {
      const windows: WindowSpec[] = [
        { resource: 'requests', limit: 5, windowMs: 120 },
        { resource: 'tokens', limit: 100, windowMs: 200 },
      ];
      const op = fc.oneof(
        {
          weight: 5,
          arbitrary: fc.record({
            kind: fc.constant('acquire' as const),
            cost: fc.integer({ min: 0, max: 2 }),
            tokens: fc.integer({ min: 0, max: 60 }),
          }),
        },
        { weight: 3, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }) },
        {
          weight: 3,
          arbitrary: fc.record({ kind: fc.constant('sleep' as const), ms: fc.integer({ min: 0, max: 25 }) }),
        },
        {
          weight: 1,
          arbitrary: fc.record({ kind: fc.constant('pause' as const), ms: fc.integer({ min: 1, max: 30 }) }),
        },
      );
      await fc.assert(
        fc.asyncProperty(
          fc.array(op, { minLength: 5, maxLength: 30 }),
          fc.integer({ min: 1, max: 3 }),
          async (ops, maxConcurrent) => {
            const h = bind(windows);
            const held: Attempt[] = [];
            const grants: Attempt[] = [];
            for (const o of ops) {
              if (o.kind === 'acquire') {
                const a = await attempt(h, [o.cost, o.tokens], maxConcurrent);
                if (a.result.ok) {
                  expect(held.length + 1).toBeLessThanOrEqual(maxConcurrent);
                  held.push(a);
                  grants.push(a);
                } else {
                  expect(a.result.waitMs).toBeGreaterThan(0);
                }
              } else if (o.kind === 'release' && held.length > 0) {
                const [a] = held.splice(o.pick % held.length, 1);
                await h.release(releaseOf(a!));
              } else if (o.kind === 'sleep') {
                await sleep(o.ms);
              } else if (o.kind === 'pause') {
                await h.pause(now(), o.ms);
              }
            }
            windows.forEach((w, i) => {
              const costs = grants.map((g) => ({
                sentAt: g.sentAt,
                repliedAt: g.repliedAt,
                cost: g.request.costs[i]!,
              }));
              expect(maxCertainlyInOneWindow(costs, w.windowMs)).toBeLessThanOrEqual(w.limit);
            });
            const snap = await h.snapshot(now());
            expect(snap.active).toBe(held.length);
            snap.used.forEach((u, i) => expect(u).toBeLessThanOrEqual(windows[i]!.limit));
            for (const a of held.splice(0)) await h.release(releaseOf(a));
            expect((await h.snapshot(now())).active).toBe(0);
          },
        ),
        { numRuns },
      );
    });

    it('property: a Limiter on this store keeps every window and the concurrency limit, and every acquire settles', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              delayMs: fc.integer({ min: 0, max: 15 }),
              durationMs: fc.integer({ min: 0, max: 20 }),
              tokens: fc.integer({ min: 0, max: 40 }),
              priority: fc.integer({ min: 0, max: 2 }),
              abortAfterMs: fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
              fails: fc.boolean(),
            }),
            { minLength: 1, maxLength: 25 },
          ),
          fc.integer({ min: 1, max: 4 }),
          async (tasks, maxConcurrent) => {
            const spy = new SpyStore(ctx.store);
            const limiter = new Limiter({
              name: freshName('limiter'),
              store: spy,
              maxConcurrent,
              maxPerWindow: 6,
              windowMs: 100,
              windows: [{ resource: 'tokens', limit: 80, windowMs: 150 }],
              windowMarginMs: 0,
            });
            let inFlight = 0;
            let maxInFlight = 0;
            const settled = await Promise.allSettled(
              tasks.map(async (t) => {
                await sleep(t.delayMs);
                const signal = t.abortAfterMs === undefined ? undefined : AbortSignal.timeout(t.abortAfterMs);
                return limiter.run(
                  async () => {
                    inFlight++;
                    maxInFlight = Math.max(maxInFlight, inFlight);
                    await sleep(t.durationMs);
                    inFlight--;
                    if (t.fails) throw new Error('task failed');
                  },
                  { tokens: t.tokens, priority: t.priority, signal },
                );
              }),
            );
            expect(settled).toHaveLength(tasks.length); // every acquire settled
            await limiter.drain();
            await spy.quiet();
            expect(maxInFlight).toBeLessThanOrEqual(maxConcurrent);
            const windows = limiter.windows;
            windows.forEach((w, i) => {
              const costs = spy.grants.map((g) => ({
                sentAt: g.sentAt,
                repliedAt: g.repliedAt,
                cost: g.costs[i]!,
              }));
              expect(maxCertainlyInOneWindow(costs, w.windowMs)).toBeLessThanOrEqual(w.limit);
            });
            expect(limiter.stats()).toMatchObject({ queued: 0 });
            // Read the shared state afresh (a remote store's stats() may show a cached snapshot).
            const fresh = ctx.store.bind(limiter.name, limiter.windows);
            expect((await fresh.snapshot(now())).active).toBe(0);
          },
        ),
        { numRuns },
      );
    });
  });
}
