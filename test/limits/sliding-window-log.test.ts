import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SlidingWindowLog } from '../../src/stores/sliding-window-log';

/** Units started in the half-open interval (now - windowMs, now], i.e. entries with now < t + windowMs. */
function bruteUsed(entries: readonly { t: number; cost: number }[], windowMs: number, now: number): number {
  let sum = 0;
  for (const e of entries) if (e.t <= now && now < e.t + windowMs) sum += e.cost;
  return sum;
}

describe('SlidingWindowLog: half-open window', () => {
  it('an entry counts from its start until just before start + windowMs, and not at start + windowMs', () => {
    const log = new SlidingWindowLog(1000);
    log.add(100, 3);
    expect(log.used(100)).toBe(3);
    expect(log.used(1099)).toBe(3);
    expect(log.used(1099.999)).toBe(3);
    expect(log.used(1100)).toBe(0);
    expect(log.entries(1100)).toBe(0);
  });

  it('counts weighted costs and entries separately', () => {
    const log = new SlidingWindowLog(1000);
    log.add(0, 5);
    log.add(10, 7);
    log.add(20, 1);
    expect(log.used(20)).toBe(13);
    expect(log.entries(20)).toBe(3);
    expect(log.used(1005)).toBe(8);
    expect(log.entries(1005)).toBe(2);
    expect(log.used(1020)).toBe(0);
  });

  it('a zero cost records nothing and returns -1', () => {
    const log = new SlidingWindowLog(1000);
    expect(log.add(0, 0)).toBe(-1);
    expect(log.entries(0)).toBe(0);
    expect(log.used(0)).toBe(0);
  });
});

describe('SlidingWindowLog: waitMs', () => {
  it('is 0 when the cost fits now, including a cost that fills the limit exactly', () => {
    const log = new SlidingWindowLog(1000);
    log.add(0, 6);
    expect(log.waitMs(0, 4, 10)).toBe(0);
    expect(log.waitMs(0, 5, 10)).toBe(1000);
  });

  it('is exactly the moment the oldest entries that must leave have left', () => {
    const log = new SlidingWindowLog(1000);
    log.add(0, 4);
    log.add(300, 4);
    log.add(700, 2);
    // 10 used of 10. A cost of 4 needs the first entry gone (at 1000); 5 needs the second too (at 1300).
    expect(log.waitMs(500, 4, 10)).toBe(500);
    expect(log.waitMs(500, 5, 10)).toBe(800);
    expect(log.waitMs(500, 8, 10)).toBe(800);
    expect(log.waitMs(500, 9, 10)).toBe(1200);
    expect(log.waitMs(500, 10, 10)).toBe(1200);
  });

  it('agrees with the eviction boundary: after waiting exactly waitMs the cost fits, a hair earlier it does not', () => {
    const log = new SlidingWindowLog(1010);
    log.add(0, 1);
    const wait = log.waitMs(0, 1, 1);
    expect(wait).toBe(1010);
    expect(log.waitMs(wait - 0.001, 1, 1)).toBeGreaterThan(0);
    expect(log.waitMs(wait, 1, 1)).toBe(0);
  });

  it('is Infinity for a cost above the limit and 0 for a zero cost, even when full', () => {
    const log = new SlidingWindowLog(1000);
    log.add(0, 10);
    expect(log.waitMs(0, 11, 10)).toBe(Infinity);
    expect(log.waitMs(0, 0, 10)).toBe(0);
  });

  it('takes the limit per call, so two limits can share one log', () => {
    const log = new SlidingWindowLog(1000);
    log.add(0, 5);
    expect(log.waitMs(0, 1, 5)).toBe(1000);
    expect(log.waitMs(0, 1, 6)).toBe(0);
  });

  it('property: waitMs equals the smallest wait a brute-force scan finds', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(
          fc.record({ gap: fc.integer({ min: 0, max: 200 }), cost: fc.integer({ min: 1, max: 10 }) }),
          {
            maxLength: 30,
          },
        ),
        fc.integer({ min: 0, max: 600 }),
        fc.integer({ min: 0, max: 25 }),
        (windowMs, limit, steps, probeGap, cost) => {
          const log = new SlidingWindowLog(windowMs);
          const entries: { t: number; cost: number }[] = [];
          let t = 0;
          for (const s of steps) {
            t += s.gap;
            // Only admit what fits, as the limiter would.
            if (log.waitMs(t, s.cost, limit) === 0) {
              log.add(t, s.cost);
              entries.push({ t, cost: s.cost });
            }
          }
          const now = t + probeGap;
          expect(log.used(now)).toBe(bruteUsed(entries, windowMs, now));
          const wait = log.waitMs(now, cost, limit);
          if (cost > limit) {
            expect(wait).toBe(Infinity);
            return;
          }
          const fitsAt = (at: number) => bruteUsed(entries, windowMs, at) + cost <= limit;
          // The candidate moments are "now" and every expiry after now.
          const candidates = [now, ...entries.map((e) => e.t + windowMs).filter((x) => x > now)].sort(
            (a, b) => a - b,
          );
          const first = candidates.find(fitsAt)!;
          expect(wait).toBe(first - now);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('SlidingWindowLog: extended windows (learned lag) with fractional times', () => {
  it('property: a wait of 0 always means the cost fits, also at the exact moment waitMs pointed to', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc.double({ min: 1, max: 1e5, noNaN: true }),
        fc.double({ min: 0, max: 1e3, noNaN: true }),
        (t, windowMs, extraMs) => {
          const log = new SlidingWindowLog(windowMs);
          log.extendBy(extraMs);
          log.add(t, 1);
          const wait = log.waitMs(t, 1, 1);
          expect(wait).toBeGreaterThan(0);
          // Probe the boundary the wait names and its float neighbours.
          for (const now of [t + wait, t + windowMs + extraMs, t + (windowMs + extraMs)]) {
            if (log.waitMs(now, 1, 1) === 0) expect(log.used(now)).toBe(0);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('an entry counts for windowMs + extraMs, and shrinking the extension lets it go sooner', () => {
    const log = new SlidingWindowLog(100);
    log.extendBy(50);
    log.add(0, 1);
    expect(log.waitMs(0, 1, 1)).toBe(150);
    expect(log.used(149)).toBe(1);
    log.extendBy(10);
    expect(log.used(109)).toBe(1);
    expect(log.used(110)).toBe(0);
  });
});

describe('SlidingWindowLog: delay (an entry counted from its arrival at the provider)', () => {
  it('a delayed entry counts from start + delay; a later entry behind it leaves only when it has', () => {
    const log = new SlidingWindowLog(1000);
    const a = log.add(0, 1);
    log.add(10, 1);
    log.delay(a, 200, 100);
    expect(log.used(1009)).toBe(2);
    // The second entry's own time has passed, but it sits behind the delayed one: both leave at 1200.
    expect(log.used(1199)).toBe(2);
    expect(log.waitMs(1100, 1, 1)).toBe(100);
    expect(log.used(1200)).toBe(0);
  });

  it('ignores non-positive, non-finite and unknown delays, and entries that already left', () => {
    const log = new SlidingWindowLog(1000);
    const a = log.add(0, 1);
    log.delay(a, 0, 10);
    log.delay(a, -5, 10);
    log.delay(a, Infinity, 10);
    log.delay(-1, 50, 10);
    log.delay(a + 7, 50, 10);
    expect(log.used(999)).toBe(1);
    expect(log.used(1000)).toBe(0);
    log.delay(a, 500, 1000);
    expect(log.used(1001)).toBe(0);
  });

  it('property: used and waitMs follow "an entry leaves once it and every entry before it have left" (never less than the exact count)', () => {
    type Op =
      | { kind: 'add'; gap: number; cost: number }
      | { kind: 'delay'; back: number; delayMs: number; gap: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({
        kind: fc.constant('add' as const),
        gap: fc.integer({ min: 0, max: 300 }),
        cost: fc.integer({ min: 1, max: 4 }),
      }),
      fc.record({
        kind: fc.constant('delay' as const),
        back: fc.nat(8),
        delayMs: fc.integer({ min: 1, max: 400 }),
        gap: fc.integer({ min: 0, max: 50 }),
      }),
    );
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 60 }),
        fc.integer({ min: 0, max: 2000 }),
        fc.integer({ min: 1, max: 6 }),
        (ops, probeGap, cost) => {
          const windowMs = 1000;
          const limit = 8;
          const log = new SlidingWindowLog(windowMs);
          const entries: { seq: number; t: number; cost: number }[] = [];
          let now = 0;
          /** The running-max rule: entry i counts at `at` while at < max(t of entries 0..i) + windowMs. */
          const countedAt = (index: number, at: number) =>
            at < Math.max(...entries.slice(0, index + 1).map((e) => e.t)) + windowMs;
          const modelUsed = (at: number) =>
            entries.reduce((sum, e, i) => (countedAt(i, at) ? sum + e.cost : sum), 0);
          const exactUsed = (at: number) =>
            entries.reduce((sum, e) => (e.t <= at && at < e.t + windowMs ? sum + e.cost : sum), 0);
          for (const o of ops) {
            now += o.gap;
            if (o.kind === 'add') {
              if (log.waitMs(now, o.cost, limit) === 0)
                entries.push({ seq: log.add(now, o.cost), t: now, cost: o.cost });
            } else if (entries.length > 0) {
              const index = Math.max(0, entries.length - 1 - o.back);
              // Only an entry still counted moves (one that left stays left, as in the log).
              const stillCounted = countedAt(index, now);
              log.delay(entries[index]!.seq, o.delayMs, now);
              if (stillCounted) entries[index]!.t += o.delayMs;
            }
            expect(log.used(now)).toBe(modelUsed(now));
          }
          const at = now + probeGap;
          expect(log.used(at)).toBe(modelUsed(at));
          expect(log.used(at)).toBeGreaterThanOrEqual(exactUsed(at));
          const wait = log.waitMs(at, cost, limit);
          const candidates = [at, ...entries.map((e) => e.t + windowMs).filter((x) => x > at)].sort(
            (a, b) => a - b,
          );
          expect(wait).toBe(candidates.find((x) => modelUsed(x) + cost <= limit)! - at);
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('SlidingWindowLog: adjust (reconcile)', () => {
  it('a positive delta raises the entry at its start time and leaves with it', () => {
    const log = new SlidingWindowLog(1000);
    const seq = log.add(100, 10);
    log.add(500, 5);
    log.adjust(seq, 7, 600);
    expect(log.used(600)).toBe(22);
    // The charge left with its entry (at 1100), not 1000 ms after the reconcile.
    expect(log.used(1100)).toBe(5);
  });

  it('a negative delta refunds, never below zero', () => {
    const log = new SlidingWindowLog(1000);
    const seq = log.add(0, 10);
    log.adjust(seq, -4, 10);
    expect(log.used(10)).toBe(6);
    log.adjust(seq, -100, 20);
    expect(log.used(20)).toBe(0);
    expect(log.waitMs(20, 10, 10)).toBe(0);
  });

  it('ignores an entry that already left the window', () => {
    const log = new SlidingWindowLog(1000);
    const seq = log.add(0, 10);
    log.add(900, 1);
    log.adjust(seq, 50, 1000);
    expect(log.used(1000)).toBe(1);
  });

  it('a lease that charged nothing (-1) and owes a positive delta gets a new entry at now', () => {
    const log = new SlidingWindowLog(1000);
    log.adjust(-1, 30, 250);
    expect(log.used(250)).toBe(30);
    expect(log.used(1249)).toBe(30);
    expect(log.used(1250)).toBe(0);
    log.adjust(-1, -30, 1300);
    expect(log.entries(1300)).toBe(0);
  });

  it('a later entry stays later: its waitMs still counts from its own start', () => {
    const log = new SlidingWindowLog(1000);
    const a = log.add(0, 2);
    log.add(400, 2);
    log.adjust(a, 6, 500); // a now costs 8 at t=0
    expect(log.waitMs(500, 3, 10)).toBe(500); // a leaves at 1000 → 2 used
    expect(log.waitMs(500, 9, 10)).toBe(900); // needs both gone, at 1400
  });
});

describe('SlidingWindowLog: compaction', () => {
  it('keeps sequence numbers valid across compaction, so adjust reaches the right entry', () => {
    const log = new SlidingWindowLog(10_000);
    const seqs: number[] = [];
    // 3000 entries one ms apart: once the first 2000 leave, the dead prefix is compacted away.
    for (let t = 0; t < 3000; t++) seqs.push(log.add(t, 1));
    expect(new Set(seqs).size).toBe(3000);
    expect(seqs[2999]! - seqs[0]!).toBe(2999);
    const now = 11_999; // entries 0..1999 have left (t + 10000 <= 11999)
    expect(log.used(now)).toBe(1000);
    // Compaction happened (head 2000 > 1024 and more than half dead); adjust entry t = 2500.
    log.adjust(seqs[2500]!, 9, now);
    expect(log.used(now)).toBe(1009);
    // It leaves with t = 2500 (at 12 501), not with another entry.
    expect(log.used(12_499)).toBe(500 + 9);
    expect(log.used(12_500)).toBe(499);
    // A sequence number from before the compaction is ignored, not misapplied to a live entry.
    log.adjust(seqs[10]!, 1000, 12_500);
    expect(log.used(12_500)).toBe(499);
    // New sequence numbers keep counting up after compaction.
    expect(log.add(12_500, 1)).toBe(seqs[2999]! + 1);
  });

  it('keeps sequence numbers valid when the log empties and starts afresh', () => {
    const log = new SlidingWindowLog(100);
    const a = log.add(0, 1);
    const b = log.add(1, 1);
    expect(log.used(500)).toBe(0);
    const c = log.add(500, 4);
    expect(c).toBe(b + 1);
    log.adjust(a, 100, 510); // stale: ignored
    log.adjust(c, 1, 510);
    expect(log.used(510)).toBe(5);
  });

  it('property: under random adds, adjusts and time steps, used() matches a plain list and sequence numbers stay stable', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({
              op: fc.constant('add' as const),
              gap: fc.integer({ min: 0, max: 3 }),
              cost: fc.integer({ min: 0, max: 5 }),
            }),
            fc.record({
              op: fc.constant('adjust' as const),
              pick: fc.nat(),
              delta: fc.integer({ min: -5, max: 5 }),
            }),
            fc.record({ op: fc.constant('jump' as const), gap: fc.integer({ min: 0, max: 60 }) }),
          ),
          { maxLength: 3000 },
        ),
        (ops) => {
          const windowMs = 50;
          const log = new SlidingWindowLog(windowMs);
          const model: { t: number; cost: number; seq: number }[] = [];
          let now = 0;
          for (const o of ops) {
            if (o.op === 'add') {
              now += o.gap;
              const seq = log.add(now, o.cost);
              if (o.cost > 0) {
                if (model.length > 0) expect(seq).toBe(model[model.length - 1]!.seq + 1);
                model.push({ t: now, cost: o.cost, seq });
              } else expect(seq).toBe(-1);
            } else if (o.op === 'adjust') {
              if (model.length === 0) continue;
              const e = model[o.pick % model.length]!;
              log.adjust(e.seq, o.delta, now);
              if (now < e.t + windowMs) e.cost = Math.max(0, e.cost + o.delta);
            } else {
              now += o.gap;
            }
            expect(log.used(now)).toBe(bruteUsed(model, windowMs, now));
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('memory stays O(entries inside one window) over a long run', () => {
    const log = new SlidingWindowLog(100);
    for (let t = 0; t < 200_000; t++) {
      log.add(t, 1);
      log.used(t);
    }
    expect(log.entries(199_999)).toBe(100);
    // The arrays are private; what matters is that the dead prefix is bounded.
    const internal = log as unknown as { times: number[] };
    expect(internal.times.length).toBeLessThanOrEqual(2 * 1024 + 200);
  });
});
