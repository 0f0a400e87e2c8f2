/**
 * The distributed cookbook example in a short configuration (real Redis, real worker processes,
 * one SIGKILLed): every item comes back, the provider's window holds, nothing is lost.
 */
import { expect, it } from 'vitest';
import { run } from '../../cookbook/distributed/main';
import { describeRedis } from '../stores/redis/redis-test-env';

describeRedis('cookbook/distributed', () => {
  it('finishes every item although one of the three workers is killed mid-run', async () => {
    const summary = await run({
      quiet: true,
      items: 60,
      requestsPerWindow: 30,
      windowMs: 2_000,
      lockDurationMs: 1_500,
    });
    const provider = summary.providers[0]!;
    expect(summary.done).toBe(60);
    expect(summary.lost).toBe(0);
    expect(summary.killedPid).toBeGreaterThan(0);
    expect(provider.maxRequestsInAnyWindow).toBeLessThanOrEqual(30);
    // Calls made twice are calls the dead worker had at the provider; it had at most its concurrency.
    expect(summary.duplicateCalls).toBeLessThanOrEqual(summary.redelivered);
  }, 90_000);
});
