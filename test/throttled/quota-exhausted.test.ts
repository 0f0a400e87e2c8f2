import { ApiError } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { isQuotaExhaustedError, type QuotaExhaustedError } from '../../src/errors/quota-exhausted-error';
import { FakeClock } from '../../src/testing/fake-clock';
import { ThrottledParallelBatchNode } from '../../src/throttled/throttled-parallel-batch-node';
import { runOnFakeClock } from './support';

const DAILY = 'GenerateRequestsPerDayPerProjectPerModel-FreeTier';
const dailyQuotaError = () =>
  new ApiError({
    status: 429,
    message: JSON.stringify({
      error: {
        code: 429,
        status: 'RESOURCE_EXHAUSTED',
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
            violations: [{ quotaId: DAILY, quotaValue: '50' }],
          },
        ],
      },
    }),
  });

describe('a daily quota exhausted inside a throttled node', () => {
  it('fails the item at once through execFallback with a QuotaExhaustedError naming the quota: no retry, no pause', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const seen: unknown[] = [];
    class N extends ThrottledParallelBatchNode<unknown, number, string> {
      override async prep() {
        return [1];
      }
      override async exec(): Promise<string> {
        calls++;
        throw dailyQuotaError();
      }
      override async execFallback(_i: number, error: Error) {
        seen.push(error);
        return 'gave up';
      }
    }
    const node = new N({ clock, maxRetries: 3 });
    await runOnFakeClock(clock, node.run({}));
    expect(calls).toBe(1);
    expect(isQuotaExhaustedError(seen[0])).toBe(true);
    const error = seen[0] as QuotaExhaustedError;
    expect(error.quotaId).toBe(DAILY);
    expect(error.message).toContain(DAILY);
    expect(node.stats).toMatchObject({ totalFailures: 1, pausedUntil: 0 });
    expect(clock.now()).toBe(0);
  });
});
