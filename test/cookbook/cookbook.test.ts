/**
 * Runs every cookbook example (cookbook/<folder>/main.ts) in a short configuration against the
 * provider simulator and checks real outcomes: every item done, none lost, the provider's limits
 * respected, 429s within the bounds argued below, and the stats an example prints present.
 *
 * About the 429 bounds. For examples whose limiters know the provider's limits, throttleflow
 * never starts more than the limit in any window plus its margin (200 ms on the 1 s demo
 * windows), so the provider can only reject a call whose arrival was delayed by more than that
 * margin relative to an earlier one (a cold connection, a stalled event loop on a busy CI box).
 * We expect 0 and allow at most one burst (`maxConcurrent` calls) per run; every such 429 is
 * retried, so it costs time, never an item. For adaptive examples the limit is unknown and 429s
 * are how it is learned; each congestion event rejects at most the calls in flight and pauses
 * the limiter for the retry-after, so there is no retry storm: we bound them by a quarter of the
 * calls.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LimiterRegistry } from '../../src/index';
import { run as adaptiveNode } from '../../cookbook/adaptive-node/main';
import { run as aiSdk } from '../../cookbook/ai-sdk/main';
import { run as basicTranslation } from '../../cookbook/basic-translation/main';
import { run as flowThrottling } from '../../cookbook/flow-throttling/main';
import { run as modelFallback } from '../../cookbook/model-fallback/main';
import { run as multiRegion } from '../../cookbook/multi-region/main';
import { run as nestedThrottling } from '../../cookbook/nested-throttling/main';
import { run as parameterizedFlow } from '../../cookbook/parameterized-flow/main';
import { run as presets } from '../../cookbook/presets/main';
import { run as providerOutage } from '../../cookbook/provider-outage/main';
import { run as sdkClients } from '../../cookbook/sdk-clients/main';
import { run as sharedLimiters } from '../../cookbook/shared-limiters/main';
import type { ProviderReport } from '../../cookbook/shared/provider';
import type { Summary } from '../../cookbook/shared/report';

/** Tests never call a real API, even when a key is set in the environment. */
const quiet = { quiet: true, simulate: true } as const;

const LIMITER_STATS_KEYS = [
  'name',
  'maxConcurrent',
  'active',
  'queued',
  'totalRequests',
  'totalRateLimits',
  'requestsInWindow',
  'utilization',
];
const NODE_STATS_KEYS = [
  ...LIMITER_STATS_KEYS,
  'totalSuccesses',
  'totalFailures',
  'consecutiveSuccesses',
  'currentConcurrent',
];
const FLOW_STATS_KEYS = [
  'maxConcurrentFlows',
  'maxFlowsPerMinute',
  'completedFlows',
  'failedFlows',
  'currentConcurrentFlows',
  'queuedFlows',
  'totalRateLimits',
];

function provider(summary: Summary, name: string): ProviderReport {
  const found = summary.providers.find((p) => p.name === name);
  if (!found) throw new Error(`no provider '${name}' in ${summary.providers.map((p) => p.name).join(', ')}`);
  return found;
}

/** Everything done, nothing lost, each simulated provider within its limits, nothing left in flight. */
function expectComplete(summary: Summary, items: number): void {
  expect(summary.items).toBe(items);
  expect(summary.done).toBe(items);
  expect(summary.lost).toBe(0);
  for (const p of summary.providers) {
    expect(p.target).toBe('simulator');
    if (p.requestsPerWindow !== undefined)
      expect(p.maxRequestsInAnyWindow).toBeLessThanOrEqual(p.requestsPerWindow);
    if (p.tokensPerWindow !== undefined)
      expect(p.maxTokensInAnyWindow).toBeLessThanOrEqual(p.tokensPerWindow);
    // Every call ended (succeeded, or failed and was counted as such).
    expect(p.calls).toBeGreaterThanOrEqual(p.succeeded);
  }
}

function expectKeys(stats: object | undefined, keys: string[]): void {
  expect(stats).toBeDefined();
  for (const key of keys) expect(stats, `stats key ${key}`).toHaveProperty(key);
}

afterEach(() => {
  // The examples clean up after themselves; a leftover name would break the next run.
  expect(LimiterRegistry.names()).toEqual([]);
});

describe('cookbook examples (short runs against the provider simulator)', () => {
  it('basic-translation: 5 at once, 10 per second, results in input order', async () => {
    const s = await basicTranslation({ ...quiet, items: 25 });
    expectComplete(s, 25);
    s.translations.forEach((t, i) => expect(t).toContain(`#${i} `));
    const p = provider(s, 'openai');
    expect(p.maxInFlight).toBeLessThanOrEqual(5);
    expect(p.maxRequestsInAnyWindow).toBe(10); // 25 calls need three windows: the limit is reached, never passed
    expect(p.rateLimited).toBeLessThanOrEqual(5);
    expectKeys(s.stats.node, NODE_STATS_KEYS);
    // Every 429 the provider sent reached the node, which retried the item.
    expect((s.stats.node as { totalRateLimits: number }).totalRateLimits).toBe(p.rateLimited);
    expect((s.stats.node as { totalSuccesses: number }).totalSuccesses).toBe(25);
  });

  it('adaptive-node: starts at 10, cuts on 429s, every item done', async () => {
    const s = await adaptiveNode({ ...quiet, items: 40 });
    expectComplete(s, 40);
    const p = provider(s, 'openai');
    expect(s.levels[0]).toBe(10);
    // 10 calls of 250 ± 100 ms in flight pass 20 per second well within the first second: the node must cut.
    expect(Math.min(...s.levels)).toBeLessThan(10);
    expect(Math.min(...s.levels)).toBeGreaterThanOrEqual(2);
    expect(Math.max(...s.levels)).toBeLessThanOrEqual(50);
    // A call starts only within the level in force when it is granted (a cut does not recall calls in flight).
    expect(p.maxInFlight).toBeLessThanOrEqual(Math.max(...s.levels));
    expect(p.rateLimited).toBeGreaterThanOrEqual(1);
    expect(p.rateLimited).toBeLessThanOrEqual(Math.ceil(p.calls / 4));
    expect(s.nodeRateLimits).toBe(p.rateLimited);
    expectKeys(s.stats.node, NODE_STATS_KEYS);
    expectKeys(s.stats.aimd, [
      'currentConcurrent',
      'totalSuccesses',
      'totalRateLimits',
      'consecutiveSuccesses',
      'totalBackoffs',
    ]);
  });

  it('presets: preset limits hold, and a per-minute preset binds', async () => {
    const s = await presets({ ...quiet, items: 6 });
    expectComplete(s, 24);
    expect(s.perMinuteLimitBinds).toBe(true);
    const [spread, fields, flows] = s.parts;
    expect(spread).toMatchObject({
      preset: 'openai_tier1',
      limits: { maxConcurrent: 5, maxPerMinute: 60 },
      calls: 6,
    });
    expect(spread!.maxInFlight).toBeLessThanOrEqual(5);
    expect(fields).toMatchObject({
      preset: 'ANTHROPIC_STANDARD',
      limits: { maxConcurrent: 5, maxPerMinute: 50 },
      calls: 6,
    });
    expect(fields!.maxInFlight).toBeLessThanOrEqual(5);
    expect(flows!.calls).toBe(12);
    expect(flows!.maxInFlight).toBeLessThanOrEqual(10);
    for (const p of s.providers) expect(p.rateLimited).toBe(0); // far below every per-minute limit
    expectKeys(s.stats.spreadNode, NODE_STATS_KEYS);
    expectKeys(s.stats.moderateFlow, FLOW_STATS_KEYS);
    expect(s.stats.moderateFlow).toMatchObject({
      maxConcurrentFlows: 10,
      maxFlowsPerMinute: 60,
      completedFlows: 6,
      failedFlows: 0,
    });
    expect(s.stats.batchFlow).toMatchObject({
      maxConcurrentFlows: 10,
      maxFlowsPerMinute: 100,
      completedFlows: 6,
      failedFlows: 0,
    });
    expect(s.stats.free).toMatchObject({ maxConcurrent: 3, totalRequests: 3, requestsInWindow: 3 });
  });

  it('presets: an unknown preset name is refused with the known names', async () => {
    await expect(presets({ ...quiet, items: 1, preset: 'openai_tier9' })).rejects.toThrow(
      /Unknown preset 'openai_tier9'.*OPENAI_TIER1/s,
    );
  });

  it('flow-throttling: fixed flow limits, then an adaptive flow fed by RateLimitHit', async () => {
    const s = await flowThrottling({ ...quiet, users: 20, adaptiveUsers: 40 });
    expectComplete(s, 60);
    const fixed = provider(s, 'openai');
    expect(s.fixed.processed).toBe(20);
    expect(fixed.maxInFlight).toBeLessThanOrEqual(10);
    expect(fixed.rateLimited).toBe(0); // 20 calls against 60 per minute
    expect(s.fixed.stats).toMatchObject({
      maxConcurrentFlows: 10,
      maxFlowsPerMinute: 60,
      completedFlows: 20,
      failedFlows: 0,
      currentConcurrentFlows: 0,
    });

    const adaptive = provider(s, 'my_api');
    expect(s.adaptive.processed).toBe(40);
    expect(s.adaptive.failures).toBe(0);
    expect(s.adaptive.levels[0]).toBe(20);
    expect(Math.min(...s.adaptive.levels)).toBeGreaterThanOrEqual(2);
    expect(adaptive.maxInFlight).toBeLessThanOrEqual(Math.max(...s.adaptive.levels));
    // Every 429 became a RateLimitHit that reached the flow.
    expect(s.adaptive.stats.totalRateLimits).toBe(adaptive.rateLimited);
    expect(adaptive.rateLimited).toBeLessThanOrEqual(Math.ceil(adaptive.calls / 4));
    expect(s.adaptive.stats).toMatchObject({
      completedFlows: 40,
      failedFlows: 0,
      currentConcurrentFlows: 0,
      queuedFlows: 0,
    });
    expectKeys(s.stats.fixedFlow, FLOW_STATS_KEYS);
    expectKeys(s.stats.adaptiveFlow, FLOW_STATS_KEYS);
  });

  it('parameterized-flow: each sub-flow sees its own params merged over the flow params', async () => {
    const s = await parameterizedFlow({ ...quiet, items: 6, languages: 3 });
    expectComplete(s, 18);
    expect(s.reports.slice().sort()).toEqual([
      'French (fr, formal, ≤ 30 words): 6 documents translated',
      'German (de, formal, ≤ 25 words): 6 documents translated',
      'Spanish (es, formal, ≤ 30 words): 6 documents translated',
    ]);
    expect(Object.keys(s.translations).sort()).toEqual(['de', 'es', 'fr']);
    for (const t of s.translations.de!)
      expect(t).toContain('Translate to German, formal tone, at most 25 words');
    s.translations.fr!.forEach((t, i) => expect(t).toContain(`#${i} `));
    const p = provider(s, 'openai');
    expect(p.maxInFlight).toBeLessThanOrEqual(6);
    expect(p.maxRequestsInAnyWindow).toBe(12); // 18 calls: the shared budget is reached, never passed
    expect(p.rateLimited).toBeLessThanOrEqual(6);
    expect(s.stats.flow).toMatchObject({ maxConcurrentFlows: 2, completedFlows: 3, failedFlows: 0 });
    expectKeys(s.stats.limiter, LIMITER_STATS_KEYS);
    expect(s.stats.limiter).toMatchObject({ name: 'llm', totalRequests: 18 + p.rateLimited });
  });

  it('nested-throttling: 5 flows × 3 calls = at most 15 in flight, at most 3 per user', async () => {
    const s = await nestedThrottling({ ...quiet, items: 20 });
    expectComplete(s, 20);
    expect(s.calls).toBe(100);
    expect(s.maxInFlight).toBeLessThanOrEqual(15);
    expect(s.maxInFlightPerUser).toBeLessThanOrEqual(3);
    expect(s.maxInFlightPerUser).toBeGreaterThanOrEqual(1);
    expect(provider(s, 'user-api').rateLimited).toBe(0); // the API has no rate limit
    expect(s.stats.flow).toMatchObject({ maxConcurrentFlows: 5, completedFlows: 20, failedFlows: 0 });
    expect(s.stats.node).toEqual({ totalSuccesses: 100, totalFailures: 0, totalRateLimits: 0 });
  });

  it('shared-limiters: two nodes share one limit, several APIs keep their own, getOrCreate reuses', async () => {
    const s = await sharedLimiters({ ...quiet, items: 12 });
    expectComplete(s, 12 * 2 + 6 + 12);
    const openai = provider(s, 'openai');
    const anthropic = provider(s, 'anthropic');
    expect(openai.calls - openai.rateLimited).toBe(12 * 2 + 6);
    expect(openai.maxInFlight).toBeLessThanOrEqual(10);
    expect(openai.maxRequestsInAnyWindow).toBe(20); // 24 calls from two nodes at once: one shared budget, reached
    expect(openai.rateLimited).toBeLessThanOrEqual(10);
    expect(anthropic.calls - anthropic.rateLimited).toBe(6);
    expect(anthropic.maxInFlight).toBeLessThanOrEqual(5);
    expect(anthropic.rateLimited).toBeLessThanOrEqual(5);
    expect(Object.keys(s.limiters).sort()).toEqual(['anthropic', 'internal_api', 'my_api', 'openai']);
    for (const stats of Object.values(s.limiters)) expectKeys(stats, LIMITER_STATS_KEYS);
    expect(s.limiters.openai).toMatchObject({ maxConcurrent: 10, totalRequests: openai.calls });
    expect(s.limiters.anthropic).toMatchObject({ maxConcurrent: 5, totalRequests: anthropic.calls });
    expect(s.limiters.internal_api).toMatchObject({ maxConcurrent: 20, totalRequests: 6 });
    expect(s.limiters.my_api).toMatchObject({ maxConcurrent: 10, totalRequests: 12 });
    expect(s.lazyInstances).toBe(1);
  });

  it('ai-sdk: generateText and streamText through throttleMiddleware, every attempt through the limiter', async () => {
    const s = await aiSdk({ ...quiet, items: 20, streams: 3 });
    expectComplete(s, 23);
    const openai = provider(s, 'openai');
    // Limits known: 0 × 429 expected, at most one burst of a window's requests allowed (see the top).
    expect(openai.rateLimited).toBeLessThanOrEqual(20);
    // Every HTTP attempt the SDK made, its retries included, took a slot.
    expect(s.stats.limiter).toMatchObject({ active: 0, totalRequests: openai.calls });
    s.summaries.forEach((t, i) => expect(t).toContain(`#${i} `));
    s.streamed.forEach((t, i) => expect(t).toContain(`#${20 + i} `));
  });

  it('sdk-clients: the openai and anthropic SDKs at default settings on throttledFetch, each attempt counted once, windows respected', async () => {
    const s = await sdkClients({ ...quiet, items: 20 });
    expectComplete(s, 40);
    const openai = provider(s, 'openai');
    const anthropic = provider(s, 'anthropic');
    // In flight at the provider: an exec whose SDK sleeps before a retry holds no slot (its
    // attempt ended), so the client-side count of running execs may be higher, and is not checked.
    expect(openai.providerMaxInFlight).toBeLessThanOrEqual(8);
    expect(anthropic.providerMaxInFlight).toBeLessThanOrEqual(5);
    expect(anthropic.maxRequestsInAnyWindow).toBe(10);
    // ~183 tokens per call against 3000 per second: the token window binds before the
    // 20-request window, so 20 calls never share one window.
    expect(openai.maxTokensInAnyWindow).toBeGreaterThan(2_500);
    expect(openai.maxRequestsInAnyWindow).toBeLessThan(20);
    expect(openai.rateLimited).toBeLessThanOrEqual(8);
    expect(anthropic.rateLimited).toBeLessThanOrEqual(5);
    for (const node of ['openaiNode', 'anthropicNode'] as const) {
      expectKeys(s.stats[node], NODE_STATS_KEYS);
      expect(s.stats[node]).toMatchObject({ totalSuccesses: 20, totalFailures: 0 });
    }
    // One lease per HTTP attempt: the 20 calls plus one per SDK retry after a 429.
    expect(s.limiters.openai).toMatchObject({ totalRequests: 20 + openai.rateLimited, active: 0 });
    expect(s.limiters.anthropic).toMatchObject({ totalRequests: 20 + anthropic.rateLimited, active: 0 });
    s.summaries.forEach((t, i) => expect(t).toContain(`#${i} `));
  });

  it("multi-region: 'soonest' over three deployments serves a third each, sooner than one deployment", async () => {
    const s = await multiRegion({ ...quiet, items: 45 });
    expectComplete(s, 45);
    const [one, three] = s.runs;
    expect(one.servedBy).toMatchObject({ single: 45 });
    // Capacity adds up: each deployment served its third (speed is the bench's to measure).
    for (const region of ['us-east', 'eu-west', 'ap-south']) expect(three.servedBy[region]).toBe(15);
    expect(s.stats.threeDeployments).toMatchObject({ strategy: 'soonest', calls: 45, served: 45, failed: 0 });
  });

  it("model-fallback: 'cheapest' keeps long prompts off the small-context model and sends it what it can take", async () => {
    const s = await modelFallback({ ...quiet, items: 20 });
    expectComplete(s, 20);
    expect(s.longPrompts).toBe(4);
    // Every long prompt passed the cheap model by for its context window, and went to the large one.
    expect(s.cheapSkips.contextWindow).toBe(4);
    expect(s.servedBy['gpt-4o-mini']! + s.servedBy['gpt-4.1']!).toBe(20);
    // The 16 short prompts fit the cheap deployment's 20 requests within maxWaitMs: all go there.
    expect(s.servedBy['gpt-4o-mini']).toBe(16);
  });

  it('provider-outage: withFallback + CircuitBreaker — the breaker opens on 529s, the secondary serves meanwhile, the primary takes over again', async () => {
    const s = await providerOutage({ quiet: true, items: 30, outageMs: 1_000, halfOpenAfterMs: 400 });
    expectComplete(s, 30);
    expect(s.servedBy.primary + s.servedBy.secondary).toBe(30);
    expect(s.servedBy.secondary).toBeGreaterThan(0);
    expect(s.servedBy.primary).toBeGreaterThan(0);
    expect(s.transitions[0]).toMatchObject({ from: 'closed', to: 'open' });
    expect(s.transitions.some((t) => t.from === 'half-open' && t.to === 'closed')).toBe(true);
    expect(s.finalState).toBe('closed');
    // 3 failures in a row open the circuit; every 529 sent one item on to the secondary.
    expect(s.primary529s).toBeGreaterThanOrEqual(3);
    expect(s.fallbacks['overloaded (529)']).toBe(s.primary529s);
    expect(s.fallbacks['open circuit']).toBeGreaterThan(0);
    expect(s.fallbacks.failed).toBe(0);
    // The chain's own counters agree: every text served, none given up, the fallbacks counted.
    expect(s.stats.chain).toMatchObject({
      calls: 30,
      served: 30,
      failed: 0,
      fellBack: s.servedBy.secondary,
      servedBy: s.servedBy,
    });
    const primary = provider(s, 'primary');
    const secondary = provider(s, 'secondary');
    expect(primary.overloaded).toBe(s.primary529s);
    expect(primary.succeeded).toBe(s.servedBy.primary);
    expect(secondary.succeeded).toBe(s.servedBy.secondary);
    expect(primary.rateLimited + secondary.rateLimited).toBeLessThanOrEqual(8);
    expectKeys(s.stats.node, NODE_STATS_KEYS);
    expectKeys(s.stats.primary, LIMITER_STATS_KEYS);
    expectKeys(s.stats.secondary, LIMITER_STATS_KEYS);
  });
});
