/**
 * Nested throttling: a throttled batch flow (users) whose sub-flow is a throttled batch node
 * (each user's API calls).
 *
 * - The flow runs at most 5 users at once (`maxConcurrentFlows = 5`).
 * - The node makes each user's calls at most 3 at a time (`maxConcurrent = 3`, and at most
 *   30 per minute). A node's own limits apply per sub-flow run, that is per user.
 * - So at most 5 × 3 = 15 calls are in flight in total.
 *
 * Each user needs 5 endpoints here (the reference cookbook has 3, which could never show the
 * per-user limit binding).
 *
 *   npx tsx cookbook/nested-throttling/main.ts
 */
import { ThrottledAsyncParallelBatchFlow, ThrottledParallelBatchNode } from '../../src/index';
import type { Llm } from '../shared/llm';
import { runIfMain } from '../shared/main';
import { openProvider, providerReport } from '../shared/provider';
import { Printer, type Output, type Summary } from '../shared/report';

interface Shared {
  userIds: number[];
  results: Map<number, string[]>;
}
type UserParams = { userId: number };

const ENDPOINTS = ['profile', 'orders', 'preferences', 'invoices', 'tickets'];

/** Calls in flight per user, measured inside exec (shared by every copy of the node). */
class PerUserGauge {
  private readonly now = new Map<number, number>();
  max = 0;
  enter(userId: number): void {
    const n = (this.now.get(userId) ?? 0) + 1;
    this.now.set(userId, n);
    this.max = Math.max(this.max, n);
  }
  leave(userId: number): void {
    this.now.set(userId, (this.now.get(userId) ?? 1) - 1);
  }
}

/** Each user needs several API calls: throttled at node level, per user. */
class FetchUserDataNode extends ThrottledParallelBatchNode<Shared, string, string, UserParams> {
  override maxConcurrent = 3; // 3 API calls per user at once
  override maxPerMinute = 30; // 30 calls per minute per user
  // This stands for an internal user API that sends no rate-limit headers: nothing to observe.
  override warnings = false;

  constructor(
    private readonly api: Llm,
    private readonly gauge: PerUserGauge,
  ) {
    super();
  }

  override async prep(): Promise<string[]> {
    return ENDPOINTS.map((endpoint) => `/users/${this.params.userId}/${endpoint}`);
  }

  override async exec(endpoint: string): Promise<string> {
    this.gauge.enter(this.params.userId);
    try {
      return (await this.api.complete(`GET ${endpoint}`)).text;
    } finally {
      this.gauge.leave(this.params.userId);
    }
  }

  override async post(shared: Shared, _endpoints: string[], bodies: string[]): Promise<undefined> {
    shared.results.set(this.params.userId, bodies);
    return undefined;
  }
}

/** Many users: throttled at flow level. */
class UserBatchFlow extends ThrottledAsyncParallelBatchFlow<Shared, object, UserParams> {
  override maxConcurrentFlows = 5; // 5 users at once
  override async prep(shared: Shared): Promise<UserParams[]> {
    return shared.userIds.map((userId) => ({ userId }));
  }
}

export interface NestedThrottlingOptions extends Output {
  /** Users. @default 100 */
  items?: number;
  /** Always use the simulator, even with an API key set. @default false */
  simulate?: boolean;
}

export interface NestedThrottlingSummary extends Summary {
  /** The most calls in flight at once, over all users (≤ 5 × 3 = 15). */
  maxInFlight: number;
  /** The most calls in flight at once for one user (≤ 3). */
  maxInFlightPerUser: number;
  /** API calls made (users × endpoints, plus retries). */
  calls: number;
}

export async function run(options: NestedThrottlingOptions = {}): Promise<NestedThrottlingSummary> {
  const users = options.items ?? 100;
  const out = new Printer(options.quiet);
  // An internal API without a request-rate limit: concurrency is what the limits here control.
  const provider = await openProvider({
    name: 'user-api',
    simulate: options.simulate,
    simulator: { latencyMs: 150, jitterMs: 50 },
  });
  try {
    out.title(
      `nested-throttling: ${users} users × ${ENDPOINTS.length} endpoints, 5 users × 3 calls = 15 in flight at most`,
    );
    const started = performance.now();
    const gauge = new PerUserGauge();
    const node = new FetchUserDataNode(provider.llm, gauge);
    const flow = new UserBatchFlow(node);
    const shared: Shared = { userIds: Array.from({ length: users }, (_, i) => i), results: new Map() };
    await flow.run(shared);
    const elapsedMs = performance.now() - started;

    const lines = [...shared.results]
      .sort(([a], [b]) => a - b)
      .map(([id, bodies]) => `user ${id}: ${bodies.length} endpoints, e.g. ${bodies[0]}`);
    out.results('users', lines, 3);
    out.stats('flow stats', flow.stats);
    // A node inside a throttled flow keeps one limiter per sub-flow run; its counters cover them all.
    const { totalSuccesses, totalFailures, totalRateLimits } = node.stats;
    out.stats('node counters (all users)', { totalSuccesses, totalFailures, totalRateLimits });
    const maxInFlight = provider.llm.counters.maxInFlight;
    out.line(
      `effective limit: 5 users × 3 calls = 15; measured at most ${maxInFlight} in flight, at most ${gauge.max} per user`,
    );

    const done = [...shared.results.values()].filter((bodies) => bodies.length === ENDPOINTS.length).length;
    const summary: NestedThrottlingSummary = {
      example: 'nested-throttling',
      items: users,
      done,
      lost: users - done,
      elapsedMs,
      providers: [providerReport(provider)],
      stats: { flow: flow.stats, node: { totalSuccesses, totalFailures, totalRateLimits } },
      maxInFlight,
      maxInFlightPerUser: gauge.max,
      calls: provider.llm.counters.calls,
    };
    out.summary(summary);
    return summary;
  } finally {
    await provider.close();
  }
}

runIfMain(import.meta.url, () => run());
