import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { RedisBackend, type AttemptResult, type WindowCharge } from '../../../src/stores/redis/redis-backend';
import { describeRedis, openRedisTestEnv, type RedisTestEnv } from './redis-test-env';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeRedis('RedisBackend scripts (real Redis)', () => {
  let env: RedisTestEnv;
  const backends: RedisBackend[] = [];
  let n = 0;
  const makeBackend = (opts: Partial<{ leaseTtlMs: number; heartbeatMs: number }> = {}) => {
    const b = new RedisBackend({
      client: env.client,
      prefix: env.prefix,
      leaseTtlMs: opts.leaseTtlMs ?? 30_000,
      heartbeatMs: opts.heartbeatMs ?? 10_000,
      operationTimeoutMs: 5000,
      reconnectGraceMs: 1000,
      wakeJitterMs: 2,
    });
    backends.push(b);
    return b;
  };
  const uniqueName = () => `lim${++n}`;

  beforeAll(async () => {
    env = await openRedisTestEnv(import.meta.url);
  });
  afterEach(async () => {
    await Promise.all(backends.splice(0).map((b) => b.close()));
  });
  afterAll(async () => {
    await env?.close();
  });

  it('admits exactly `limit` requests per window and says how long until the next fits', async () => {
    const b = makeBackend();
    const name = uniqueName();
    const windows: WindowCharge[] = [{ resource: 'requests', windowMs: 400, limit: 3, cost: 1 }];
    const results: AttemptResult[] = [];
    for (let i = 0; i < 4; i++) results.push(await b.tryAcquire(name, { windows }));
    expect(results.map((r) => r.granted)).toEqual([true, true, true, false]);
    const denied = results[3]!;
    if (denied.granted) throw new Error('unreachable');
    expect(denied.reason).toBe('window');
    expect(denied.window).toBe(0);
    expect(denied.waitMs).toBeGreaterThan(0);
    expect(denied.waitMs).toBeLessThanOrEqual(400);
    // Sleeping the returned wait is enough (a retry may need one more ms for timer granularity).
    await sleep(denied.waitMs);
    let again = await b.tryAcquire(name, { windows });
    if (!again.granted) {
      expect(again.waitMs).toBeLessThanOrEqual(2);
      await sleep(again.waitMs);
      again = await b.tryAcquire(name, { windows });
    }
    expect(again.granted).toBe(true);
  });

  it('charges weighted costs and waits for enough of them to slide out', async () => {
    const b = makeBackend();
    const name = uniqueName();
    const tokens = (cost: number): WindowCharge[] => [
      { resource: 'tokens', windowMs: 60_000, limit: 100, cost },
    ];
    expect((await b.tryAcquire(name, { windows: tokens(60) })).granted).toBe(true);
    expect((await b.tryAcquire(name, { windows: tokens(30) })).granted).toBe(true);
    const denied = await b.tryAcquire(name, { windows: tokens(20) });
    expect(denied).toMatchObject({ granted: false, reason: 'window' });
    if (denied.granted) throw new Error('unreachable');
    expect(denied.waitMs).toBeGreaterThan(59_000); // the 60-token entry must leave first
    expect((await b.tryAcquire(name, { windows: tokens(10) })).granted).toBe(true); // 100 exactly
    expect(await env.client.get(`${b.keys(name).windowSum({ resource: 'tokens', windowMs: 60_000 })}`)).toBe(
      '100',
    );
  });

  it('rejects a cost that can never fit at once', async () => {
    const b = makeBackend();
    const r = await b.tryAcquire(uniqueName(), {
      windows: [{ resource: 'tokens', windowMs: 1000, limit: 10, cost: 11 }],
    });
    expect(r).toEqual({ granted: false, waitMs: -1, reason: 'never', window: 0 });
  });

  it('caps concurrent leases across backends and wakes a waiter on release', async () => {
    const a = makeBackend();
    const c = makeBackend();
    const name = uniqueName();
    const first = await a.tryAcquire(name, { windows: [], maxConcurrent: 2 });
    const second = await c.tryAcquire(name, { windows: [], maxConcurrent: 2 });
    const third = await c.tryAcquire(name, { windows: [], maxConcurrent: 2 });
    expect([first.granted, second.granted, third.granted]).toEqual([true, true, false]);
    expect(third).toMatchObject({ reason: 'concurrency' });
    const woken = c.waitForRelease(name, 20_000);
    await sleep(20);
    if (!first.granted) throw new Error('unreachable');
    expect(await a.release(name, first.leaseId)).toEqual({ released: true });
    expect(await woken).toBe(true);
    expect((await c.tryAcquire(name, { windows: [], maxConcurrent: 2 })).granted).toBe(true);
  });

  it('answers a retried acquire (same lease id) without taking a second slot', async () => {
    const b = makeBackend();
    const name = uniqueName();
    const windows: WindowCharge[] = [{ resource: 'requests', windowMs: 60_000, limit: 5, cost: 1 }];
    const r1 = await b.tryAcquire(name, { leaseId: 'same', windows, maxConcurrent: 1 });
    const r2 = await b.tryAcquire(name, { leaseId: 'same', windows, maxConcurrent: 1 });
    expect([r1.granted, r2.granted]).toEqual([true, true]);
    expect(await env.client.zcard(b.keys(name).leases)).toBe(1);
    expect(await env.client.zcard(b.keys(name).windowLog(windows[0]!))).toBe(1);
  });

  it('reaps a lease whose holder stopped renewing it, and reports it expired once, not freeing twice', async () => {
    const dead = makeBackend({ leaseTtlMs: 150, heartbeatMs: 60_000 });
    const alive = makeBackend({ leaseTtlMs: 150 });
    const name = uniqueName();
    const held = await dead.tryAcquire(name, { windows: [], maxConcurrent: 1 });
    expect((await alive.tryAcquire(name, { windows: [], maxConcurrent: 1 })).granted).toBe(false);
    await sleep(200);
    const taken = await alive.tryAcquire(name, { windows: [], maxConcurrent: 1 });
    expect(taken.granted).toBe(true);
    const expired: string[] = [];
    dead.on('leaseExpired', (e) => expired.push(e.leaseId));
    if (!held.granted) throw new Error('unreachable');
    expect(await dead.release(name, held.leaseId)).toEqual({ released: false });
    expect(expired).toEqual([held.leaseId]);
    // The live holder's slot was not freed by the late release.
    expect((await alive.tryAcquire(name, { windows: [], maxConcurrent: 1 })).granted).toBe(false);
  });

  it('keeps a lease alive past its TTL while the heartbeat runs', async () => {
    const b = makeBackend({ leaseTtlMs: 120, heartbeatMs: 30 });
    const other = makeBackend({ leaseTtlMs: 120 });
    const name = uniqueName();
    const held = await b.tryAcquire(name, { windows: [], maxConcurrent: 1 });
    await sleep(400);
    expect((await other.tryAcquire(name, { windows: [], maxConcurrent: 1 })).granted).toBe(false);
    if (!held.granted) throw new Error('unreachable');
    expect(await b.release(name, held.leaseId)).toEqual({ released: true });
  });

  it('reports through the heartbeat a lease that expired while its work ran', async () => {
    const b = makeBackend({ leaseTtlMs: 100, heartbeatMs: 60_000 });
    const name = uniqueName();
    const held = await b.tryAcquire(name, { windows: [], maxConcurrent: 1 });
    const expired: string[] = [];
    b.on('leaseExpired', (e) => expired.push(e.leaseId));
    await sleep(150);
    await b.renewAll();
    if (!held.granted) throw new Error('unreachable');
    expect(expired).toEqual([held.leaseId]);
    expect(await b.release(name, held.leaseId)).toEqual({ released: false });
    expect(expired).toEqual([held.leaseId]); // reported once
  });

  it('reconciles token costs at release: extra usage is charged, a refund frees room', async () => {
    const b = makeBackend();
    const name = uniqueName();
    const w = { resource: 'tokens', windowMs: 60_000 };
    const sum = async () => Number(await env.client.get(b.keys(name).windowSum(w)));
    const lease = await b.tryAcquire(name, { windows: [{ ...w, limit: 1000, cost: 300 }] });
    if (!lease.granted) throw new Error('unreachable');
    await b.release(name, lease.leaseId, [{ ...w, charged: 300, delta: 150 }], lease);
    expect(await sum()).toBe(450);
    // A retried release changes nothing.
    await b.release(name, lease.leaseId, [{ ...w, charged: 300, delta: 150 }], lease);
    expect(await sum()).toBe(450);
    const l2 = await b.tryAcquire(name, { windows: [{ ...w, limit: 1000, cost: 500 }] });
    if (!l2.granted) throw new Error('unreachable');
    await b.release(name, l2.leaseId, [{ ...w, charged: 500, delta: -400 }], l2);
    expect(await sum()).toBe(550);
    // A lease charged nothing up front is charged at release (as the memory store does).
    const l3 = await b.tryAcquire(name, { windows: [{ ...w, limit: 1000, cost: 0 }] });
    if (!l3.granted) throw new Error('unreachable');
    await b.release(name, l3.leaseId, [{ ...w, charged: 0, delta: 50 }], l3);
    expect(await sum()).toBe(600);
    expect(Number(await env.client.zscore(b.keys(name).windowLog(w), `${l3.leaseId}:50`))).toBeGreaterThan(
      l3.startedAt,
    );
    expect(await b.snapshot(name, [w])).toEqual({ active: 0, used: [600], pausedForMs: 0 });
  });

  it('shares the pause gate: a pause from one backend holds acquires in another', async () => {
    const a = makeBackend();
    const c = makeBackend();
    const name = uniqueName();
    expect(await a.pause(name, 5000)).toBeGreaterThan(4900);
    expect(await a.pause(name, 10)).toBeGreaterThan(4900); // never shortens
    const r = await c.tryAcquire(name, {
      windows: [{ resource: 'requests', windowMs: 1000, limit: 5, cost: 1 }],
    });
    expect(r).toMatchObject({ granted: false, reason: 'paused' });
    if (r.granted) throw new Error('unreachable');
    expect(r.waitMs).toBeGreaterThan(4900);
  });

  it('batches concurrent attempts into few script calls, each answered as if alone and in order', async () => {
    const b = makeBackend();
    const name = uniqueName();
    const windows: WindowCharge[] = [{ resource: 'requests', windowMs: 60_000, limit: 7, cost: 1 }];
    const before = b.scripts.stats().evalsha + b.scripts.stats().reloads;
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => b.tryAcquire(name, { leaseId: `l${i}`, windows })),
    );
    const calls = b.scripts.stats().evalsha + b.scripts.stats().reloads - before;
    expect(calls).toBeLessThan(50);
    // The first 7 submitted are the 7 granted: a batch keeps submission order.
    expect(results.map((r) => r.granted)).toEqual(Array.from({ length: 50 }, (_, i) => i < 7));
    const denied = results[7]!;
    if (denied.granted) throw new Error('unreachable');
    expect(denied.waitMs).toBeGreaterThan(59_000);
    const released = await Promise.all(
      results.slice(0, 7).map(async (r) => (r.granted ? b.release(name, r.leaseId) : null)),
    );
    expect(released.every((r) => r?.released === true)).toBe(true);
  });

  it('puts every key of a limiter in one hash slot', async () => {
    const b = makeBackend();
    const name = uniqueName();
    const k = b.keys(name);
    const w = { resource: 'r', windowMs: 1 };
    const all = [
      k.leases,
      k.pause,
      k.waiting,
      k.extend,
      k.clients,
      k.aimd,
      k.stats,
      k.releasedChannel,
      k.windowLog(w),
      k.windowSum(w),
    ];
    // Redis Cluster hashes only the part between the first '{' and the next '}' when it is non-empty.
    const hashTag = (key: string) => {
      const open = key.indexOf('{');
      const close = key.indexOf('}', open + 1);
      return open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key;
    };
    expect(new Set(all.map(hashTag))).toEqual(new Set([name]));
    // Where the server runs in cluster mode, ask it too.
    const slots = await Promise.all(
      all.map((key) => env.client.call('CLUSTER', 'KEYSLOT', key).catch(() => null)),
    );
    if (slots.some((s) => s !== null)) expect(new Set(slots).size).toBe(1);
  });
});
