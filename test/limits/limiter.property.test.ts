/**
 * The limiter's acceptance properties, on the fake clock, over random arrivals, costs, durations,
 * failures, aborts, timeouts, resizes and pauses:
 *   (1) no window ever holds more than its limit (checked at every start against what was known
 *       then, and over the whole log of start times and costs),
 *   (2) nobody starts while in-flight work is at the concurrency limit in force,
 *   (3) every acquire settles (granted, timed out exactly at its deadline, aborted exactly at its
 *       abort, or refused at once as too large) and nothing leaks: active 0, queued 0, no timer,
 *   (4) nothing starts during a pause,
 *   (5) priority order holds (higher first, first-in first-out within a priority),
 *   (6) no idle gap: whenever the head waiter fits, it has started.
 * The model below is written from the spec, not from the limiter's code.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isAbortError } from '../../src/errors/abort-error';
import { isLimitExceededError } from '../../src/errors/limit-exceeded-error';
import { isLimiterTimeoutError } from '../../src/errors/limiter-timeout-error';
import { FakeClock } from '../../src/testing/fake-clock';
import type { Lease } from '../../src/limits/lease';
import { Limiter } from '../../src/limits/limiter';
import { AsyncMemoryStore } from './helpers';

interface WindowConfig {
  resource: 'requests' | 'tokens';
  limit: number;
  windowMs: number;
}

interface AcquireAction {
  kind: 'acquire';
  at: number;
  tokens: number;
  priority: number;
  durationMs: number;
  fail: boolean;
  usage: number | undefined;
  timeoutMs: number | undefined;
  abortAfterMs: number | undefined;
  releaseTwice: boolean;
}

type Action =
  | AcquireAction
  | { kind: 'resize'; at: number; to: number }
  | { kind: 'pause'; at: number; ms: number }
  | { kind: 'ratelimit'; at: number; retryAfterMs: number };

interface Scenario {
  /**
   * Rate limits reported as `'rate_limit'` also teach the limiter that the provider's window ends
   * later than ours (provider feedback stretches every window a little), which this static model
   * does not follow: then only the safety properties (1)–(5) are checked, not (6). Otherwise they
   * are reported as `'overloaded'` (a pure pause).
   */
  learning: boolean;
  /** Run on a store that answers every call a microtask later (a remote store's code path). */
  asyncStore: boolean;
  maxConcurrent: number | undefined;
  windows: WindowConfig[];
  marginMs: number | undefined;
  reconcile: 'up' | 'both';
  actions: Action[];
}

const windowsArb: fc.Arbitrary<WindowConfig[]> = fc
  .tuple(
    fc.uniqueArray(
      fc.record({ limit: fc.integer({ min: 1, max: 5 }), windowMs: fc.integer({ min: 50, max: 300 }) }),
      {
        maxLength: 2,
        selector: (w) => w.windowMs,
      },
    ),
    fc.option(
      fc.record({ limit: fc.integer({ min: 50, max: 400 }), windowMs: fc.integer({ min: 80, max: 400 }) }),
      { nil: undefined },
    ),
  )
  .map(([requests, tokens]) => [
    ...requests.map((w) => ({ resource: 'requests' as const, ...w })),
    ...(tokens ? [{ resource: 'tokens' as const, ...tokens }] : []),
  ]);

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('acquire' as const),
      at: fc.integer({ min: 0, max: 600 }),
      tokens: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 450 })),
      priority: fc.integer({ min: -1, max: 1 }),
      durationMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 250 })),
      fail: fc.boolean(),
      usage: fc.option(fc.integer({ min: 0, max: 450 }), { nil: undefined }),
      timeoutMs: fc.option(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 400 })), {
        nil: undefined,
        freq: 3,
      }),
      abortAfterMs: fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined, freq: 4 }),
      releaseTwice: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('resize' as const),
      at: fc.integer({ min: 0, max: 600 }),
      to: fc.integer({ min: 1, max: 4 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('pause' as const),
      at: fc.integer({ min: 0, max: 600 }),
      ms: fc.integer({ min: 0, max: 200 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('ratelimit' as const),
      at: fc.integer({ min: 0, max: 600 }),
      retryAfterMs: fc.integer({ min: 0, max: 200 }),
    }),
  },
);

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  learning: fc.boolean(),
  asyncStore: fc.boolean(),
  maxConcurrent: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
  windows: windowsArb,
  marginMs: fc.option(fc.constantFrom(0, 5), { nil: undefined, freq: 2 }),
  reconcile: fc.constantFrom('up' as const, 'both' as const),
  actions: fc
    .array(actionArb, { minLength: 1, maxLength: 30 })
    .map((a) => [...a].sort((x, y) => x.at - y.at)),
});

/** One cost in one window's log, as the model knows it. */
interface Entry {
  startMs: number;
  /** What the acquire charged. */
  charged: number;
  /** The cost as known now (changed by a reconcile while the entry is inside the window). */
  known: number;
  /** A charge added at release by a lease that charged nothing up front (not an admission). */
  late: boolean;
}

interface Waiter {
  seq: number;
  action: AcquireAction;
  costs: number[];
  acquiredAtMs: number;
  deadlineMs: number;
  abortedAtMs: number | undefined;
  settled: boolean;
  entries: (Entry | undefined)[];
}

async function runScenario(s: Scenario): Promise<void> {
  const clock = new FakeClock();
  const limiter = new Limiter({
    clock,
    store: s.asyncStore ? new AsyncMemoryStore() : undefined,
    maxConcurrent: s.maxConcurrent,
    windows: s.windows,
    windowMarginMs: s.marginMs,
    reconcile: s.reconcile,
  });
  const effectiveMs = s.windows.map((w) => w.windowMs + (s.marginMs ?? w.windowMs * 0.01));
  const logs: Entry[][] = s.windows.map(() => []);
  let maxConcurrent = s.maxConcurrent ?? Infinity;
  let active = 0;
  let pausedUntil = 0;
  const pauses: [number, number][] = [];
  const pending = new Set<Waiter>();
  const waiters: Waiter[] = [];
  const failures: string[] = [];
  const fail = (message: string) => failures.push(`t=${clock.now()}: ${message}`);

  const inWindow = (i: number, nowMs: number) =>
    logs[i]!.filter((e) => e.startMs <= nowMs && e.startMs + effectiveMs[i]! > nowMs).reduce(
      (sum, e) => sum + e.known,
      0,
    );
  const fits = (costs: number[], nowMs: number) =>
    costs.every((c, i) => c === 0 || inWindow(i, nowMs) + c <= s.windows[i]!.limit);
  const goesBefore = (a: Waiter, b: Waiter) =>
    a.action.priority > b.action.priority || (a.action.priority === b.action.priority && a.seq < b.seq);

  const onStart = (w: Waiter, lease: Lease) => {
    const now = clock.now();
    w.settled = true;
    pending.delete(w);
    // timeoutMs 0 means "only at once"; any other waiter never starts at or after its deadline.
    if (now >= w.deadlineMs && now > w.acquiredAtMs)
      fail(`#${w.seq} started at/after its deadline ${w.deadlineMs}`);
    if (w.abortedAtMs !== undefined) fail(`#${w.seq} started after its abort`);
    if (active >= maxConcurrent) fail(`#${w.seq} started with ${active} in flight at limit ${maxConcurrent}`); // (2)
    if (pauses.some(([from, until]) => now >= from && now < until)) fail(`#${w.seq} started during a pause`); // (4)
    for (const other of pending) if (goesBefore(other, w)) fail(`#${w.seq} started before #${other.seq}`); // (5)
    w.costs.forEach((c, i) => {
      if (c === 0) return;
      if (inWindow(i, now) + c > s.windows[i]!.limit) fail(`#${w.seq} overfilled window ${i}`); // (1)
      const entry: Entry = { startMs: now, charged: c, known: c, late: false };
      logs[i]!.push(entry);
      w.entries[i] = entry;
    });
    active++;
    void clock.sleep(w.action.durationMs).then(() => {
      const releasedAt = clock.now();
      active--;
      const usage = w.action.fail ? undefined : w.action.usage;
      if (usage !== undefined) {
        s.windows.forEach((win, i) => {
          if (win.resource !== 'tokens') return;
          const delta = usage - w.action.tokens;
          if (!(delta > 0 || (delta < 0 && s.reconcile === 'both'))) return;
          const entry = w.entries[i];
          if (entry) {
            if (entry.startMs + effectiveMs[i]! > releasedAt) entry.known = Math.max(0, entry.known + delta);
          } else if (delta > 0) {
            logs[i]!.push({ startMs: releasedAt, charged: delta, known: delta, late: true });
          }
        });
      }
      lease.release(usage === undefined ? undefined : { tokens: usage });
      if (w.action.releaseTwice) lease.release({ tokens: 10_000 });
    });
  };

  const onReject = (w: Waiter, error: unknown) => {
    const now = clock.now();
    w.settled = true;
    pending.delete(w);
    const tooLarge = w.costs.some((c, i) => c > s.windows[i]!.limit);
    if (isLimitExceededError(error)) {
      if (!tooLarge) fail(`#${w.seq} refused as too large but fits`);
      if (now !== w.acquiredAtMs) fail(`#${w.seq} too-large refusal was not immediate`);
    } else if (tooLarge) {
      fail(`#${w.seq} too large but settled with ${String(error)}`);
    } else if (isLimiterTimeoutError(error)) {
      if (now !== w.deadlineMs) fail(`#${w.seq} timed out at ${now}, deadline ${w.deadlineMs}`);
    } else if (isAbortError(error)) {
      if (now !== w.abortedAtMs) fail(`#${w.seq} abort rejected at ${now}, aborted at ${w.abortedAtMs}`);
    } else {
      fail(`#${w.seq} rejected with ${String(error)}`);
    }
  };

  /** (6): after everything due now has run, a head that fits must have started. */
  const checkNoIdleGap = () => {
    const now = clock.now();
    let head: Waiter | undefined;
    for (const w of pending)
      if (w.deadlineMs > now && w.abortedAtMs === undefined && (!head || goesBefore(w, head))) head = w;
    if (!s.learning && head && now >= pausedUntil && active < maxConcurrent && fits(head.costs, now))
      fail(`head #${head.seq} fits but waits`);
    if (limiter.stats().active !== active) fail(`active ${limiter.stats().active}, model ${active}`);
  };

  /** Moves time to `target`, stopping at every pending sleep and every moment room appears. */
  const stepTo = async (target: number) => {
    for (let guard = 0; ; guard++) {
      if (guard > 10_000) throw new Error('the clock does not settle');
      const now = clock.now();
      let next = clock.nextDueAt ?? Infinity;
      logs.forEach((log, i) => {
        for (const e of log)
          if (e.startMs + effectiveMs[i]! > now) next = Math.min(next, e.startMs + effectiveMs[i]!);
      });
      if (pausedUntil > now) next = Math.min(next, pausedUntil);
      if (next === Infinity || next > target) break;
      await clock.advanceTo(next);
      checkNoIdleGap();
    }
    if (target !== Infinity) {
      await clock.advanceTo(target);
      checkNoIdleGap();
    }
  };

  for (const action of s.actions) {
    await stepTo(action.at);
    const now = clock.now();
    switch (action.kind) {
      case 'resize':
        limiter.setMaxConcurrent(action.to);
        maxConcurrent = action.to;
        break;
      case 'pause':
      case 'ratelimit': {
        const ms = action.kind === 'pause' ? action.ms : action.retryAfterMs;
        if (action.kind === 'pause') limiter.pause(ms);
        else
          limiter.reportRateLimit({
            retryAfterMs: ms,
            source: 'test',
            kind: s.learning ? 'rate_limit' : 'overloaded',
          });
        if (ms > 0 && now + ms > pausedUntil) {
          pauses.push([now, now + ms]);
          pausedUntil = now + ms;
        }
        break;
      }
      case 'acquire': {
        const costs = s.windows.map((w) => (w.resource === 'requests' ? 1 : action.tokens));
        const w: Waiter = {
          seq: waiters.length,
          action,
          costs,
          acquiredAtMs: now,
          deadlineMs: action.timeoutMs === undefined ? Infinity : now + action.timeoutMs,
          abortedAtMs: undefined,
          settled: false,
          entries: [],
        };
        waiters.push(w);
        pending.add(w);
        const controller = new AbortController();
        if (action.abortAfterMs !== undefined) {
          void clock.sleep(action.abortAfterMs).then(() => {
            if (w.settled) return;
            w.abortedAtMs = clock.now();
            controller.abort();
          });
        }
        limiter
          .acquire({
            tokens: action.tokens,
            priority: action.priority,
            timeoutMs: action.timeoutMs,
            signal: controller.signal,
          })
          .then(
            (lease) => onStart(w, lease),
            (error: unknown) => onReject(w, error),
          );
        break;
      }
    }
    await clock.advance(0);
    checkNoIdleGap();
  }
  await stepTo(Infinity);

  // (3) everything settled, nothing leaked.
  for (const w of waiters) if (!w.settled) fail(`#${w.seq} never settled`);
  const stats = limiter.stats();
  if (stats.active !== 0 || stats.queued !== 0) fail(`left active ${stats.active}, queued ${stats.queued}`);
  if (clock.pendingSleeps !== 0) fail(`${clock.pendingSleeps} timers left`);

  // (1) over the whole log: in any half-open interval of the (margin-widened) window, the units
  // that started, each at most what it was charged (less after a refund), stay within the limit.
  s.windows.forEach((win, i) => {
    const starts = logs[i]!.filter((e) => !e.late).sort((a, b) => a.startMs - b.startMs);
    let sum = 0;
    let from = 0;
    for (let to = 0; to < starts.length; to++) {
      sum += Math.min(starts[to]!.charged, starts[to]!.known);
      while (starts[from]!.startMs + effectiveMs[i]! <= starts[to]!.startMs) {
        sum -= Math.min(starts[from]!.charged, starts[from]!.known);
        from++;
      }
      if (sum > win.limit)
        fail(`window ${i} holds ${sum} > ${win.limit} in [${starts[from]!.startMs}, ${starts[to]!.startMs}]`);
    }
  });

  expect(failures).toEqual([]);
}

describe('Limiter properties (fake clock)', () => {
  it('(1)–(6) hold over random scenarios', async () => {
    await fc.assert(fc.asyncProperty(scenarioArb, runScenario), { numRuns: 300 });
  });

  it('(1) holds with margin 0 for bursts against one request window, checked on the start log', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 20, max: 200 }),
        fc.array(fc.integer({ min: 0, max: 500 }), { minLength: 1, maxLength: 40 }),
        async (limit, windowMs, arrivals) => {
          const clock = new FakeClock();
          const limiter = new Limiter({ clock, maxPerWindow: limit, windowMs, windowMarginMs: 0 });
          const starts: number[] = [];
          for (const at of [...arrivals].sort((a, b) => a - b)) {
            await clock.advanceTo(at);
            void limiter.acquire().then(() => starts.push(clock.now()));
          }
          await clock.runAll();
          expect(starts).toHaveLength(arrivals.length);
          // Exact: each start is at the earliest moment the window allows (the k-th start no
          // earlier than its arrival and than the (k - limit)-th start + windowMs).
          const sorted = [...arrivals].sort((a, b) => a - b);
          const expected: number[] = [];
          sorted.forEach((at, k) =>
            expected.push(
              Math.max(at, k >= limit ? expected[k - limit]! + windowMs : 0, k > 0 ? expected[k - 1]! : 0),
            ),
          );
          expect(starts).toEqual(expected);
        },
      ),
      { numRuns: 100 },
    );
  });
});
