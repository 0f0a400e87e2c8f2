/**
 * `ReleaseRequest.arrivalLagMs` in the Redis store: a released lease's window entries count from
 * `start + arrivalLagMs` instead of `start` — only later, never earlier, never for a non-finite or
 * non-positive lag, never for an entry already out of the window — together with a reconcile delta,
 * and idempotently (a retried release). Real Redis; waits are checked as bounds, not timings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../../src/stores/redis/index';
import type { StoreHandle, TryAcquireResult, WindowSpec } from '../../../src/stores/store';
import { describeRedis, openRedisTestEnv, type RedisTestEnv } from './redis-test-env';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeRedis('RedisStore: release with arrivalLagMs', () => {
  let env: RedisTestEnv;
  let store: RedisStore;
  let n = 0;
  beforeAll(async () => {
    env = await openRedisTestEnv(import.meta.url);
    store = new RedisStore({ client: env.client, prefix: env.prefix });
  });
  afterAll(async () => {
    await store?.close();
    await env?.close();
  });

  const bind = (windows: WindowSpec[]): StoreHandle => {
    const handle = store.bind(`lag${++n}`, windows);
    handle.subscribe?.(() => {});
    return handle;
  };
  let lease = 0;
  const acquire = async (
    h: StoreHandle,
    costs: number[],
  ): Promise<{ leaseId: string; result: TryAcquireResult }> => {
    const leaseId = `lag-lease-${++lease}`;
    return { leaseId, result: await h.tryAcquire({ nowMs: 0, leaseId, costs, maxConcurrent: Infinity }) };
  };
  const entriesOf = (r: TryAcquireResult) => {
    if (!r.ok) throw new Error('not granted');
    return r.entries;
  };
  const waitOf = (r: TryAcquireResult) => {
    if (r.ok) throw new Error('granted');
    return r.waitMs;
  };

  it('counts the entry from start + lag: the next request waits past the plain window', async () => {
    const h = bind([{ resource: 'requests', limit: 1, windowMs: 400 }]);
    const sentAt = performance.now();
    const a = await acquire(h, [1]);
    await h.release({ nowMs: 0, leaseId: a.leaseId, entries: entriesOf(a.result), arrivalLagMs: 300 });
    const refused = (await acquire(h, [1])).result;
    const elapsed = performance.now() - sentAt;
    // Without the lag it would be at most 400 ms from the start; with it, about 700 from the start.
    expect(waitOf(refused)).toBeGreaterThan(400 - elapsed + 300 - 5);
    expect(waitOf(refused)).toBeLessThanOrEqual(701);
    expect((await h.snapshot(0)).used).toEqual([1]);
  });

  describe('ignores a lag that is not finite and positive', () => {
    for (const lag of [0, -50, Number.NaN, Number.POSITIVE_INFINITY]) {
      it(`arrivalLagMs ${String(lag)}`, async () => {
        const h = bind([{ resource: 'requests', limit: 1, windowMs: 400 }]);
        const a = await acquire(h, [1]);
        await h.release({ nowMs: 0, leaseId: a.leaseId, entries: entriesOf(a.result), arrivalLagMs: lag });
        const refused = (await acquire(h, [1])).result;
        expect(waitOf(refused)).toBeLessThanOrEqual(400);
        expect((await h.snapshot(0)).used).toEqual([1]);
      });
    }
  });

  it('leaves an entry already out of the window out', async () => {
    const h = bind([{ resource: 'requests', limit: 1, windowMs: 100 }]);
    const a = await acquire(h, [1]);
    await sleep(150);
    await h.release({ nowMs: 0, leaseId: a.leaseId, entries: entriesOf(a.result), arrivalLagMs: 10_000 });
    expect((await acquire(h, [1])).result.ok).toBe(true);
    expect((await h.snapshot(0)).used).toEqual([1]);
  });

  it('moves the reconciled cost (delta and lag together), once even when the release is retried', async () => {
    const h = bind([
      { resource: 'tokens', limit: 1000, windowMs: 300 },
      { resource: 'requests', limit: 10, windowMs: 300 },
    ]);
    const a = await acquire(h, [300, 1]);
    const release = {
      nowMs: 0,
      leaseId: a.leaseId,
      entries: entriesOf(a.result),
      deltas: [-100, 0],
      arrivalLagMs: 1500,
    };
    await h.release(release);
    await h.release(release);
    expect((await h.snapshot(0)).used).toEqual([200, 1]);
    // Past the plain window the moved entries still count (the lag leaves 1.4 s of slack for a
    // slow machine); past start + lag + window they are gone (time only moves on).
    await sleep(400);
    expect((await h.snapshot(0)).used).toEqual([200, 1]);
    await sleep(1500);
    expect((await h.snapshot(0)).used).toEqual([0, 0]);
  });

  it('a lease charged nothing up front is charged its delta no earlier than start + lag', async () => {
    const h = bind([{ resource: 'tokens', limit: 1000, windowMs: 300 }]);
    const a = await acquire(h, [0]);
    await h.release({
      nowMs: 0,
      leaseId: a.leaseId,
      entries: entriesOf(a.result),
      deltas: [50],
      arrivalLagMs: 1500,
    });
    expect((await h.snapshot(0)).used).toEqual([50]);
    await sleep(400); // past release + window, inside start + lag + window
    expect((await h.snapshot(0)).used).toEqual([50]);
    await sleep(1500);
    expect((await h.snapshot(0)).used).toEqual([0]);
  });
});
