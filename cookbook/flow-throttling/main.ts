/**
 * Flow-level throttling: every user goes through a two-node flow (fetch the user's data, then
 * process it with an LLM), and the batch flow limits how many users are in flight and how many
 * start per minute.
 *
 * Part 1 is the reference cookbook's UserProcessingFlow: `maxConcurrentFlows = 10`,
 * `maxFlowsPerMinute = 60`, against a provider that allows 60 LLM calls per minute (one per
 * user). 60 users fit in one minute, so only the 10-at-a-time limit shows; a 61st user would
 * wait for the next minute (1000 users take ~17 minutes, as the numbers say).
 *
 * Part 2 is the adaptive flow: the LLM node turns a provider 429 into a `RateLimitHit`, and the
 * AdaptiveThrottledBatchFlow halves its concurrency, waits the retry-after and runs that
 * user's flow again; sustained success grows concurrency back. Its provider allows 20 calls per
 * second; the flow starts at 20 users in flight.
 *
 *   npx tsx cookbook/flow-throttling/main.ts
 */
import {
  AdaptiveThrottledBatchFlow,
  Node,
  RateLimitHit,
  ThrottledAsyncParallelBatchFlow,
  type ThrottledFlowStats,
} from '../../src/index';
import { detectRateLimit } from '../../src/providers/index';
import { SAMPLE_TEXTS } from '../data/sample-texts';
import type { Llm } from '../shared/llm';
import { runIfMain } from '../shared/main';
import { openProvider, providerReport, type Provider } from '../shared/provider';
import { Printer, type Output, type Summary } from '../shared/report';

interface Shared {
  userIds: number[];
  users: Map<number, string>;
  processed: Map<number, string>;
}
type UserParams = { userId: number };

/** A stand-in for a user service: 20–60 ms, returns the user's latest note. */
async function fetchUserData(userId: number): Promise<string> {
  await new Promise((resolve) => setTimeout(resolve, 20 + ((userId * 7) % 40)));
  return SAMPLE_TEXTS[userId % SAMPLE_TEXTS.length]!;
}

class FetchUserNode extends Node<Shared, UserParams, unknown, string> {
  override async exec(): Promise<string> {
    return fetchUserData(this.params.userId);
  }
  override async post(shared: Shared, _prep: unknown, user: string): Promise<string> {
    shared.users.set(this.params.userId, user);
    return 'process';
  }
}

class ProcessUserNode extends Node<Shared, UserParams, string, string> {
  constructor(private readonly llm: Llm) {
    super();
  }
  override async prep(shared: Shared): Promise<string> {
    return shared.users.get(this.params.userId) ?? '';
  }
  override async exec(note: string): Promise<string> {
    return (await this.llm.complete(`Write a follow-up for user ${this.params.userId}: ${note}`)).text;
  }
  override async post(shared: Shared, _note: string, reply: string): Promise<undefined> {
    shared.processed.set(this.params.userId, reply);
    return undefined;
  }
}

/** The reference cookbook's flow: one sub-flow per user, 10 at once, 60 started per minute. */
class UserProcessingFlow extends ThrottledAsyncParallelBatchFlow<Shared, object, UserParams> {
  override maxConcurrentFlows = 10; // process 10 users concurrently
  override maxFlowsPerMinute = 60; // start at most 60 users per minute
  override async prep(shared: Shared): Promise<UserParams[]> {
    return shared.userIds.map((userId) => ({ userId }));
  }
}

/** An LLM call that tells the enclosing adaptive flow about rate limits. */
class ApiNode extends Node<Shared, UserParams, string, string> {
  constructor(private readonly llm: Llm) {
    super();
  }
  override async prep(_shared: Shared): Promise<string> {
    return SAMPLE_TEXTS[this.params.userId % SAMPLE_TEXTS.length]!;
  }
  override async exec(note: string): Promise<string> {
    try {
      return (await this.llm.complete(`Classify the mood of: ${note}`)).text;
    } catch (error) {
      const limited = detectRateLimit(error);
      // Signal the rate limit to the parent flow (with the provider's retry-after as a hint).
      if (limited)
        throw new RateLimitHit('API rate limit exceeded', {
          retryAfterMs: limited.retryAfterMs,
          source: 'my_api',
          cause: error,
        });
      throw error;
    }
  }
  override async post(shared: Shared, _note: string, mood: string): Promise<undefined> {
    shared.processed.set(this.params.userId, mood);
    return undefined;
  }
}

/** The reference cookbook's SmartUserFlow: AIMD over flow concurrency. */
class SmartUserFlow extends AdaptiveThrottledBatchFlow<Shared, object, UserParams> {
  override initialConcurrentFlows = 20; // start aggressive
  override minConcurrentFlows = 2; // don't go below 2
  override maxConcurrentFlows = 50; // cap at 50
  override backoffFactor = 0.5; // halve on a rate limit
  override recoveryThreshold = 15; // 15 successful users in a row to grow
  override recoveryFactor = 1.3; // +30 % on recovery
  override maxFlowRetries = 10; // a user's flow may be rate limited this often before it fails
  override onError = 'collect' as const; // record failed users instead of rejecting the run
  override async prep(shared: Shared): Promise<UserParams[]> {
    return shared.userIds.map((userId) => ({ userId }));
  }
}

export interface FlowThrottlingOptions extends Output {
  /** Users through the fixed flow (part 1); at most 60 fit in its first minute. @default 60 */
  users?: number;
  /** Users through the adaptive flow (part 2). @default 80 */
  adaptiveUsers?: number;
  /** Shorthand for both counts (tests). */
  items?: number;
  /** Always use the simulator, even with an API key set. @default false */
  simulate?: boolean;
}

export interface FlowThrottlingSummary extends Summary {
  fixed: { users: number; processed: number; stats: ThrottledFlowStats };
  adaptive: {
    users: number;
    processed: number;
    stats: ThrottledFlowStats;
    levels: number[];
    failures: number;
  };
}

export async function run(options: FlowThrottlingOptions = {}): Promise<FlowThrottlingSummary> {
  const users = options.users ?? options.items ?? 60;
  const adaptiveUsers = options.adaptiveUsers ?? options.items ?? 80;
  const out = new Printer(options.quiet);
  const providers: Provider[] = [];
  try {
    const started = performance.now();

    // Part 1: fixed flow limits.
    const llmApi = await openProvider({
      name: 'openai',
      simulate: options.simulate,
      simulator: { requestsPerWindow: 60, windowMs: 60_000, latencyMs: 200, jitterMs: 100 },
    });
    providers.push(llmApi);
    out.title(`flow-throttling 1/2: ${users} users through fetch → process, 10 at once, 60 per minute`);
    const fetch = new FetchUserNode();
    fetch.on('process', new ProcessUserNode(llmApi.llm));
    const flow = new UserProcessingFlow(fetch);
    const shared: Shared = { userIds: range(users), users: new Map(), processed: new Map() };
    await flow.run(shared);
    out.results(
      'processed users',
      [...shared.processed].sort(([a], [b]) => a - b).map(([id, reply]) => `user ${id}: ${reply}`),
      3,
    );
    out.stats('flow stats', flow.stats);
    out.provider(providerReport(llmApi));

    // Part 2: adaptive flow limits.
    const flakyApi = await openProvider({
      name: 'my_api',
      simulate: options.simulate,
      simulator: { requestsPerWindow: 20, windowMs: 1_000, latencyMs: 300, jitterMs: 100 },
    });
    providers.push(flakyApi);
    out.title(
      `flow-throttling 2/2: ${adaptiveUsers} users through an adaptive flow (provider: 20 per second)`,
    );
    const smart = new SmartUserFlow(new ApiNode(flakyApi.llm));
    const levels = [smart.aimd.current];
    smart.getLimiter().on('resize', ({ to }) => levels.push(to));
    const shared2: Shared = { userIds: range(adaptiveUsers), users: new Map(), processed: new Map() };
    await smart.run(shared2);
    out.results(
      'moods',
      [...shared2.processed].sort(([a], [b]) => a - b).map(([id, mood]) => `user ${id}: ${mood}`),
      3,
    );
    out.line(`flow concurrency levels: ${levels.join(' → ')}`);
    out.stats('flow stats', smart.stats);
    for (const f of smart.failures) out.line(`failed: ${JSON.stringify(f.params)}: ${String(f.error)}`);
    out.provider(providerReport(flakyApi));

    const items = users + adaptiveUsers;
    const done = shared.processed.size + shared2.processed.size;
    const summary: FlowThrottlingSummary = {
      example: 'flow-throttling',
      items,
      done,
      lost: items - done,
      elapsedMs: performance.now() - started,
      providers: providers.map(providerReport),
      stats: { fixedFlow: flow.stats, adaptiveFlow: smart.stats },
      fixed: { users, processed: shared.processed.size, stats: flow.stats },
      adaptive: {
        users: adaptiveUsers,
        processed: shared2.processed.size,
        stats: smart.stats,
        levels,
        failures: smart.failures.length,
      },
    };
    out.summary(summary);
    return summary;
  } finally {
    await Promise.all(providers.map((p) => p.close()));
  }
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

runIfMain(import.meta.url, () => run());
