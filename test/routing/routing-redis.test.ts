import { afterAll, beforeAll, expect, it } from 'vitest';
import { Limiter } from '../../src/limits/limiter';
import { withFallback, type FallbackTarget } from '../../src/routing/fallback-chain';
import { RedisStore } from '../../src/stores/redis/redis-store';
import { describeRedis, openRedisTestEnv, type RedisTestEnv } from '../stores/redis/redis-test-env';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The most starts inside any interval of `windowMs`. */
function mostInAnyWindow(starts: readonly number[], windowMs: number): number {
  const sorted = [...starts].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i]! - sorted[j]! >= windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describeRedis('routing with limiters on the Redis store', () => {
  let env: RedisTestEnv;
  beforeAll(async () => {
    env = await openRedisTestEnv(import.meta.url);
  });
  afterAll(async () => {
    await env?.close();
  });

  it("'soonest' spreads two processes' calls over three shared deployments without exceeding any window", async () => {
    const names = ['east', 'west', 'central'];
    const starts: Record<string, number[]> = { east: [], west: [], central: [] };
    // Two "processes": each its own client, store and limiters, bound to the same names.
    const chains = [env.client, env.newClient()].map((client) => {
      const store = new RedisStore({ client, prefix: env.prefix });
      const targets: FallbackTarget<number, string>[] = names.map((name) => ({
        name,
        limiter: new Limiter({
          name: `routing-${name}`,
          store,
          maxPerWindow: 5,
          windowMs: 400,
          warnings: false,
        }),
        call: async () => {
          starts[name]!.push(Date.now());
          await sleep(5);
          return name;
        },
      }));
      return withFallback(targets, { strategy: 'soonest' });
    });
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => chains[i % 2]!.call(i)));
    expect(results).toHaveLength(40);
    for (const name of names) {
      // At most 5 starts in any 400 ms. Checked over 300 ms: a start is recorded here when its lease
      // arrives, which can be well after Redis charged it (the first calls also load the scripts).
      expect(mostInAnyWindow(starts[name]!, 300)).toBeLessThanOrEqual(5);
    }
    const served = names.map((n) => chains[0]!.stats().servedBy[n]! + chains[1]!.stats().servedBy[n]!);
    expect(served.reduce((a, b) => a + b)).toBe(40);
    // Capacity adds up: every deployment took a share (an 'ordered' chain would send all to east).
    for (const count of served) expect(count).toBeGreaterThanOrEqual(8);
    // Routing asked the limiters without taking capacity: each granted exactly the calls it served.
    for (const name of names) {
      const granted = chains.reduce((sum, c) => sum + c.limiters()[name]!.stats().totalRequests, 0);
      expect(granted).toBe(starts[name]!.length);
    }
  }, 30_000);
});
