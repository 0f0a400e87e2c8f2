import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isLimiterTimeoutError } from '../../../src/errors/limiter-timeout-error';
import { Limiter } from '../../../src/limits/limiter';
import { isInvalidOptionError } from '../../../src/validation/options';
import {
  isStoreUnavailableError,
  LimiterKeys,
  RedisStore,
  StoreUnavailableError,
} from '../../../src/stores/redis/index';
import { redisServerAvailable, startPrivateRedis, type PrivateRedis } from './private-redis';
import { describeRedis, openRedisTestEnv, type RedisTestEnv } from './redis-test-env';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeRedis('RedisStore', () => {
  let env: RedisTestEnv;
  beforeAll(async () => {
    env = await openRedisTestEnv(import.meta.url);
  });
  afterAll(async () => {
    await env?.close();
  });

  it('validates its options with messages that name the option', () => {
    const attempt = (o: object) => {
      try {
        new RedisStore({ client: env.client, ...o });
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const ttl = attempt({ leaseTtlMs: -5 });
    expect(isInvalidOptionError(ttl)).toBe(true);
    expect(String(ttl)).toMatch(/leaseTtlMs/);
    expect(String(attempt({ onStoreError: 'ignore' }))).toMatch(/onStoreError/);
    expect(String(attempt({ localFraction: 0 }))).toMatch(/localFraction/);
    expect(String(attempt({ prefix: 'a{b}:' }))).toMatch(/prefix must not contain/);
    expect(String(attempt({ client: {} }))).toMatch(/client/);
  });

  it('puts every key of one limiter under one {name} hash tag', () => {
    const keys = new LimiterKeys('app:', 'openai');
    expect(keys.leases).toBe('app:{openai}:leases');
    expect(keys.windowLog({ resource: 'tokens', windowMs: 60_600 })).toBe('app:{openai}:w:tokens:60600');
    expect(keys.windowSum({ resource: 'tokens', windowMs: 60_600 })).toBe('app:{openai}:w:tokens:60600:sum');
    expect(keys.releasedChannel).toBe('app:{openai}:released');
    expect(new LimiterKeys('', 'a}b').base).toBe('{a%7Db}');
  });

  it('shares one budget between limiters in two "processes" (two clients, two stores)', async () => {
    const a = new RedisStore({ client: env.client, prefix: env.prefix });
    const b = new RedisStore({ client: env.newClient(), prefix: env.prefix });
    const la = new Limiter({
      name: 'two-stores',
      store: a,
      maxConcurrent: 2,
      maxPerWindow: 3,
      windowMs: 60_000,
    });
    const lb = new Limiter({
      name: 'two-stores',
      store: b,
      maxConcurrent: 2,
      maxPerWindow: 3,
      windowMs: 60_000,
    });
    const l1 = await la.acquire();
    const l2 = await lb.acquire();
    // Concurrency is shared: the third waits for one of the two to be released.
    const third = lb.acquire();
    await sleep(50);
    l1.release();
    const l3 = await third;
    // The window is shared: 3 started, a fourth cannot start within the minute.
    await expect(la.acquire({ timeoutMs: 100 })).rejects.toSatisfy(isLimiterTimeoutError);
    l2.release();
    l3.release();
    expect((await a.snapshot('two-stores', la.windows)).used).toEqual([3]);
    await Promise.all([a.close(), b.close()]);
  });

  it('close() lets releases already made reach Redis first (a limiter does not await them)', async () => {
    const store = new RedisStore({ client: env.client, prefix: env.prefix });
    const limiter = new Limiter({ name: 'close-drains', store, maxConcurrent: 40 });
    const leases = await Promise.all(Array.from({ length: 40 }, () => limiter.acquire()));
    for (const lease of leases) lease.release(); // fire and forget, as every lease release is
    await store.close();
    const fresh = new RedisStore({ client: env.client, prefix: env.prefix });
    expect((await fresh.snapshot('close-drains', [])).active).toBe(0);
    await fresh.close();
  });

  it('shares the pause gate and the AIMD level', async () => {
    const a = new RedisStore({ client: env.client, prefix: env.prefix });
    const b = new RedisStore({ client: env.newClient(), prefix: env.prefix });
    const ha = a.bind('gate', []);
    const hb = b.bind('gate', []);
    await ha.pause(0, 2_000);
    expect(await hb.tryAcquire({ nowMs: 0, leaseId: 'x', costs: [], maxConcurrent: Infinity })).toMatchObject(
      { ok: false, reason: 'paused' },
    );
    await ha.setLevel(12);
    expect(await hb.getLevel()).toBe(12);
    await Promise.all([a.close(), b.close()]);
  });

  it('emits leaseExpired for a lease whose TTL ran out while its work ran, and does not free it twice', async () => {
    const store = new RedisStore({
      client: env.client,
      prefix: env.prefix,
      leaseTtlMs: 100,
      heartbeatMs: 60_000,
    });
    const other = new RedisStore({ client: env.newClient(), prefix: env.prefix, leaseTtlMs: 100 });
    const expired: string[] = [];
    store.on('leaseExpired', (e) => expired.push(e.name));
    const slow = new Limiter({ name: 'expiry', store, maxConcurrent: 1 });
    const fast = new Limiter({ name: 'expiry', store: other, maxConcurrent: 1 });
    const lease = await slow.acquire();
    await sleep(150); // no heartbeat reached Redis: the lease is gone
    const taken = await fast.acquire({ timeoutMs: 2_000 });
    lease.release();
    await sleep(50);
    expect(expired).toEqual(['expiry']);
    // The late release did not free the slot `fast` holds now.
    expect((await other.snapshot('expiry', [])).active).toBe(1);
    taken.release();
    await Promise.all([store.close(), other.close()]);
  });
});

describeRedis.runIf(redisServerAvailable())('RedisStore when Redis is unreachable', () => {
  let server: PrivateRedis;
  let client: Redis;
  beforeAll(async () => {
    server = await startPrivateRedis();
    client = new Redis({
      host: '127.0.0.1',
      port: server.port,
      maxRetriesPerRequest: 1,
      retryStrategy: (times) => Math.min(times * 20, 200),
    });
    client.on('error', () => {});
    await client.ping();
    await server.stop();
  });
  afterAll(async () => {
    client?.disconnect();
    await server?.stop();
  });

  it("onStoreError 'fail' (the default): acquire rejects with StoreUnavailableError naming the address", async () => {
    const store = new RedisStore({ client, operationTimeoutMs: 300 });
    const limiter = new Limiter({ name: 'down', store, maxPerWindow: 10, windowMs: 1_000 });
    const error = await limiter.acquire().catch((e: unknown) => e);
    expect(isStoreUnavailableError(error)).toBe(true);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as StoreUnavailableError).address).toBe(`127.0.0.1:${server.port}`);
    expect(String((error as Error).message)).toContain(`127.0.0.1:${server.port}`);
    await store.close();
  });

  it("onStoreError 'local': falls back to memory with the stated fraction of every limit, says so, and goes back to Redis when it answers", async () => {
    const store = new RedisStore({
      client,
      onStoreError: 'local',
      localFraction: 0.5,
      operationTimeoutMs: 300,
      recheckMs: 100,
    });
    const events: string[] = [];
    store.on('fallback', (e) => events.push(`fallback ${e.name} ${e.fraction} ${e.address}`));
    store.on('recovered', (e) => events.push(`recovered ${e.name}`));
    const limiter = new Limiter({
      name: 'degraded',
      store,
      maxConcurrent: 4,
      maxPerWindow: 10,
      windowMs: 60_000,
    });
    // Never unlimited: half of 4 in flight …
    const held = [await limiter.acquire({ timeoutMs: 2_000 }), await limiter.acquire({ timeoutMs: 2_000 })];
    await expect(limiter.acquire({ timeoutMs: 150 })).rejects.toSatisfy(isLimiterTimeoutError);
    for (const l of held) l.release();
    // … and half of 10 per window.
    for (let i = 0; i < 3; i++) (await limiter.acquire({ timeoutMs: 2_000 })).release();
    await expect(limiter.acquire({ timeoutMs: 150 })).rejects.toSatisfy(isLimiterTimeoutError);
    expect(events).toEqual([`fallback degraded 0.5 127.0.0.1:${server.port}`]);

    await server.restart(0);
    await client.ping();
    await sleep(150);
    const shared = await limiter.acquire({ timeoutMs: 2_000 });
    shared.release();
    expect(events).toEqual([`fallback degraded 0.5 127.0.0.1:${server.port}`, 'recovered degraded']);
    expect((await store.snapshot('degraded', limiter.windows)).used).toEqual([1]);
    await store.close();
  });
});
