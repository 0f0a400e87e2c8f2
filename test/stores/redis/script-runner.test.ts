import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isNoScriptError, ScriptRunner } from '../../../src/stores/redis/script-runner';
import { redisServerAvailable, startPrivateRedis, type PrivateRedis } from './private-redis';
import { describeRedis, openRedisTestEnv, type RedisTestEnv } from './redis-test-env';

const scripts = {
  incr: `return redis.call('INCRBY', KEYS[1], ARGV[1])`,
  fail: `return redis.error_reply('ERR boom')`,
};

describeRedis('ScriptRunner (real Redis)', () => {
  let env: RedisTestEnv;
  // SCRIPT FLUSH and restarts go to a private server when one can be started, not the shared one.
  let server: PrivateRedis | undefined;
  let privateClients: Redis[] = [];
  const disruptable = (): Redis => {
    if (!server) return env.newClient();
    const c = new Redis({ host: '127.0.0.1', port: server.port });
    c.on('error', () => {}); // reconnect noise while the private server restarts
    privateClients.push(c);
    return c;
  };
  beforeAll(async () => {
    env = await openRedisTestEnv(import.meta.url);
    if (redisServerAvailable()) server = await startPrivateRedis();
  });
  afterAll(async () => {
    await Promise.all(privateClients.map((c) => c.quit().catch(() => c.disconnect())));
    privateClients = [];
    await server?.stop();
    await env?.close();
  });

  it('runs a script by SHA and reloads it once after SCRIPT FLUSH', async () => {
    const client = disruptable();
    const runner = new ScriptRunner(client, scripts);
    const key = `${env.prefix}{runner}:a`;
    await client.script('FLUSH');
    expect(await runner.run('incr', [key], [2])).toBe(2); // NOSCRIPT → EVAL
    expect(await runner.run('incr', [key], [3])).toBe(5); // cached now → EVALSHA
    expect(runner.stats()).toEqual({ evalsha: 1, reloads: 1 });
    const [exists] = (await client.script('EXISTS', runner.script('incr').sha)) as number[];
    expect(exists).toBe(1);
  });

  it('never fails a call while the script cache is flushed again and again mid-run', async () => {
    const client = disruptable();
    const runner = new ScriptRunner(client, scripts);
    const key = `${env.prefix}{runner}:b`;
    const flusher = disruptable();
    let flushing = true;
    let flushes = 0;
    const flushLoop = (async () => {
      while (flushing) {
        await flusher.script('FLUSH');
        flushes++;
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 2000; i++) {
      calls.push(runner.run('incr', [key], [1]));
      if (i % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    const results = await Promise.allSettled(calls);
    flushing = false;
    await flushLoop;
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(Number(await client.get(key))).toBe(2000);
    expect(flushes).toBeGreaterThan(1);
    expect(runner.stats().reloads).toBeGreaterThan(0);
  });

  it.runIf(redisServerAvailable())(
    'survives a Redis restart between calls (ioredis reconnects, the runner reloads)',
    async () => {
      const client = disruptable();
      client.on('error', () => {});
      const runner = new ScriptRunner(client, scripts);
      const key = `${env.prefix}{runner}:r`;
      expect(await runner.run('incr', [key], [1])).toBe(1);
      await server!.restart();
      expect(await runner.run('incr', [key], [1])).toBe(1); // fresh server: no data, no scripts
      expect(runner.stats().reloads).toBeGreaterThanOrEqual(1);
    },
  );

  it('passes other script errors through without retrying', async () => {
    const runner = new ScriptRunner(env.client, scripts);
    await expect(runner.run('fail', [`${env.prefix}{runner}:c`], [])).rejects.toThrow('boom');
    await expect(runner.run('fail', [`${env.prefix}{runner}:c`], [])).rejects.toThrow('boom');
    expect(runner.stats().reloads).toBeLessThanOrEqual(1);
  });

  it('recognises NOSCRIPT replies only', () => {
    expect(isNoScriptError(new Error('NOSCRIPT No matching script. Please use EVAL.'))).toBe(true);
    expect(isNoScriptError(new Error('ERR NOSCRIPT'))).toBe(false);
    expect(isNoScriptError('NOSCRIPT')).toBe(false);
  });
});
