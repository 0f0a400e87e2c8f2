import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { callThroughLimiter } from '../../src/calls/call-loop';
import { throttledFetch } from '../../src/fetch/throttled-fetch';
import { Limiter } from '../../src/limits/limiter';
import { FakeClock } from '../../src/testing/fake-clock';
import { CallLog, runOnFakeClock } from '../throttled/support';
import { ScriptedProvider, sdkCall, type ScriptedAnswer } from './support';

const answerArb: fc.Arbitrary<ScriptedAnswer> = fc.oneof(
  fc.record({ kind: fc.constant('ok' as const), usageTokens: fc.integer({ min: 0, max: 80 }) }),
  fc.record({
    kind: fc.constant('stream' as const),
    usageTokens: fc.integer({ min: 0, max: 80 }),
    chunks: fc.integer({ min: 0, max: 3 }),
  }),
  fc.record({ kind: fc.constant('429' as const), retryAfterMs: fc.integer({ min: 1, max: 900 }) }),
  fc.constant({ kind: '429' as const }),
  fc.constant({ kind: '500' as const }),
  fc.constant({ kind: 'reset' as const }),
);

const itemArb = fc.record(
  {
    answers: fc.array(answerArb, { minLength: 1, maxLength: 5 }),
    maxRetries: fc.integer({ min: 0, max: 3 }),
    abortAtMs: fc.integer({ min: 0, max: 4000 }),
    /** A streamed answer is read to its end, or cancelled after its first chunk. */
    readWholeStream: fc.boolean(),
    promptChars: fc.integer({ min: 0, max: 400 }),
  },
  { requiredKeys: ['answers', 'maxRetries', 'readWholeStream', 'promptChars'] },
);

const scenarioArb = fc.record({
  maxConcurrent: fc.integer({ min: 1, max: 3 }),
  maxPerWindow: fc.integer({ min: 1, max: 5 }),
  latencyMs: fc.integer({ min: 1, max: 150 }),
  /** Calls made inside a throttled call on the same limiter (the node's lease hand-off) or bare. */
  nested: fc.boolean(),
  items: fc.array(itemArb, { minLength: 1, maxLength: 6 }),
});

type Item = typeof itemArb extends fc.Arbitrary<infer I> ? I : never;

describe('throttledFetch (property)', () => {
  it('random SDK retry sequences (429 with and without retry-after, 5xx, resets, aborts, streams) never exceed a window (but for 500s, given back) or the concurrency, count each attempt once, and never leak a slot', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const clock = new FakeClock();
        const windowMs = 1000;
        const limiter = new Limiter({
          clock,
          maxConcurrent: scenario.maxConcurrent,
          maxPerWindow: scenario.maxPerWindow,
          windowMs,
          maxTokensPerMinute: 1_000_000,
          warnings: false,
        });
        // Each item's answers in order; the provider serves attempts of all items interleaved,
        // so the item an attempt belongs to is read from its body.
        const cursors = scenario.items.map(() => 0);
        let current: Item | undefined;
        let currentIndex = 0;
        const provider = new ScriptedProvider(
          clock,
          () => {
            const item = current!;
            const i = cursors[currentIndex]!++;
            return item.answers[Math.min(i, item.answers.length - 1)]!;
          },
          scenario.latencyMs,
        );
        const inner = provider.fetch;
        const sends = new CallLog(clock);
        // Attempts a provider counts: all but its 500s, whose units the limiter gives back at
        // once (refundFailedAttempts) as providers typically do not count them.
        const counted = new CallLog(clock);
        const routed: typeof inner = (input, init) => {
          const index = (JSON.parse(String(init?.body)) as { item: number }).item;
          current = scenario.items[index];
          currentIndex = index;
          const answers = current!.answers;
          if (answers[Math.min(cursors[index]!, answers.length - 1)]!.kind !== '500') {
            counted.starts.push(clock.now());
          }
          return sends.track(() => inner(input, init));
        };
        const fetch = throttledFetch(limiter, { fetch: routed });

        const runItem = async (item: Item, index: number): Promise<void> => {
          const controller = new AbortController();
          if (item.abortAtMs !== undefined) {
            void clock.sleep(item.abortAtMs).then(() => controller.abort(new Error('aborted')));
          }
          const body = {
            item: index,
            model: 'm',
            messages: [{ role: 'user', content: 'x'.repeat(item.promptChars) }],
            max_tokens: 10,
          };
          const call = async (): Promise<void> => {
            const response = await sdkCall(fetch, clock, body, {
              maxRetries: item.maxRetries,
              signal: controller.signal,
            });
            const reader = response.body?.getReader();
            if (!reader) return;
            if (item.readWholeStream) while (!(await reader.read()).done);
            else {
              await reader.read();
              await reader.cancel();
            }
          };
          if (scenario.nested) {
            await callThroughLimiter(limiter, call, {
              signal: controller.signal,
              retry: { maxRateLimitRetries: 0 },
            });
          } else {
            await call().catch(() => undefined);
          }
        };

        await runOnFakeClock(clock, Promise.all(scenario.items.map(runItem)));
        // Let background body reads (JSON clones) finish and every abort timer fire.
        await runOnFakeClock(clock, clock.sleep(5000));

        const stats = limiter.stats();
        expect(stats.active).toBe(0);
        expect(stats.queued).toBe(0);
        // Every HTTP attempt had exactly one lease of its own, nested or not.
        expect(stats.totalRequests).toBe(provider.sentAtMs.length);
        expect(counted.maxStartsInWindow(windowMs)).toBeLessThanOrEqual(scenario.maxPerWindow);
        expect(provider.maxInFlight).toBeLessThanOrEqual(scenario.maxConcurrent);
      }),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 150) },
    );
  });
});
