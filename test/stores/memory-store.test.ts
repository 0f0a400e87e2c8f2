import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/stores/memory-store';
import type { TryAcquireResult } from '../../src/stores/store';

const requests = (limit: number, windowMs: number) => ({ resource: 'requests', limit, windowMs });
const ask = (costs: number[], nowMs: number, maxConcurrent = Infinity) => ({
  nowMs,
  leaseId: '',
  costs,
  maxConcurrent,
});
const granted = (r: TryAcquireResult) => {
  if (!r.ok) throw new Error(`refused: ${r.reason}`);
  return r;
};

describe('MemoryStore', () => {
  it('answers every call synchronously (no promise on the hot path) and tracks no lease ids', () => {
    const h = new MemoryStore().bind('x', [requests(1, 100)]);
    expect(h.tracksLeases).toBe(false);
    const results = [h.tryAcquire(ask([1], 0)), h.pause(0, 10), h.snapshot(0), h.getLevel(), h.setLevel(3)];
    for (const r of results) expect(r instanceof Promise).toBe(false);
  });

  it('uses the caller clock exactly: an entry at t counts until t + windowMs, not at it', () => {
    const h = new MemoryStore().bind('x', [requests(1, 100)]);
    const first = granted(h.tryAcquire(ask([1], 10)));
    expect(first.entries).toEqual([0]);
    expect(h.tryAcquire(ask([1], 109.999))).toEqual({
      ok: false,
      reason: 'window',
      waitMs: expect.closeTo(0.001, 9),
    });
    expect(h.tryAcquire(ask([1], 110)).ok).toBe(true);
  });

  it('refuses in order: pause, then windows, then concurrency', () => {
    const h = new MemoryStore().bind('x', [requests(1, 100)]);
    granted(h.tryAcquire(ask([1], 0, 1)));
    h.pause(0, 30);
    expect(h.tryAcquire(ask([1], 10, 1))).toEqual({ ok: false, reason: 'paused', waitMs: 20 });
    expect(h.tryAcquire(ask([1], 30, 1))).toEqual({ ok: false, reason: 'window', waitMs: 70 });
    expect(h.tryAcquire(ask([0], 30, 1))).toEqual({ ok: false, reason: 'concurrency', waitMs: Infinity });
  });

  it('the largest wait over all windows decides', () => {
    const h = new MemoryStore().bind('x', [requests(1, 100), requests(2, 1000)]);
    granted(h.tryAcquire(ask([1, 1], 0)));
    expect(h.tryAcquire(ask([1, 1], 50))).toEqual({ ok: false, reason: 'window', waitMs: 50 });
    granted(h.tryAcquire(ask([1, 1], 100)));
    expect(h.tryAcquire(ask([1, 1], 200))).toEqual({ ok: false, reason: 'window', waitMs: 800 });
  });

  it('shares a window between handles of one name only when resource and window length match', () => {
    const store = new MemoryStore();
    const a = store.bind('api', [requests(1, 100)]);
    const b = store.bind('api', [requests(1, 100), requests(5, 200)]);
    const c = store.bind('api', [requests(5, 200)]);
    granted(a.tryAcquire(ask([1], 0)));
    expect(b.tryAcquire(ask([1, 1], 0)).ok).toBe(false); // shares a's 100 ms log
    expect(c.tryAcquire(ask([1], 0)).ok).toBe(true); // the 200 ms log is its own
    expect(b.snapshot(0)).toEqual({ active: 2, used: [1, 1], pausedForMs: 0 });
  });

  it('each handle brings its own limit to a shared log', () => {
    const store = new MemoryStore();
    const strict = store.bind('api', [requests(1, 100)]);
    const loose = store.bind('api', [requests(3, 100)]);
    granted(strict.tryAcquire(ask([1], 0)));
    expect(strict.tryAcquire(ask([1], 0)).ok).toBe(false);
    expect(loose.tryAcquire(ask([1], 0)).ok).toBe(true);
  });

  it('reconciles at release: a delta changes the entry at its start, a zero charge owes from now', () => {
    const h = new MemoryStore().bind('x', [{ resource: 'tokens', limit: 100, windowMs: 1000 }]);
    const a = granted(h.tryAcquire(ask([40], 0)));
    h.release({ nowMs: 500, leaseId: '', entries: a.entries, deltas: [20] });
    expect(h.snapshot(500).used).toEqual([60]);
    expect(h.snapshot(1000).used).toEqual([0]); // the raised entry still left at 0 + 1000
    const b = granted(h.tryAcquire(ask([0], 1000)));
    expect(b.entries).toEqual([-1]);
    h.release({ nowMs: 1500, leaseId: '', entries: b.entries, deltas: [30] });
    expect(h.snapshot(2499).used).toEqual([30]);
    expect(h.snapshot(2500).used).toEqual([0]);
  });
});
