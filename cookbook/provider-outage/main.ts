/**
 * Provider outage: the primary provider answers every call with 529 "overloaded" for a while;
 * a circuit breaker notices, calls go to a secondary provider meanwhile, and once the primary
 * is back a half-open trial call closes the circuit and traffic returns to it. Every item
 * finishes.
 *
 * throttleflow has no FallbackNode / withFallback yet, so the fallback lives in this example's
 * node: each provider has its own limiter (from a LimiterRegistry) and the primary's calls go
 * through a CircuitBreaker from throttleflow's resilience pieces.
 *
 * The outage is staged on the simulator (`p529: 1`, then `p529: 0`), so this example always
 * runs against simulators, API keys or not.
 *
 *   npx tsx cookbook/provider-outage/main.ts
 */
import {
  LimiterRegistry,
  ThrottledParallelBatchNode,
  handleRateLimit,
  type Limiter,
} from '../../src/index';
import { detectRateLimit } from '../../src/providers/index';
import { CircuitBreaker, isBrokenCircuitError, shouldTripBreaker, type CircuitState } from '../../src/resilience/index';
import { sampleDocuments } from '../data/sample-texts';
import type { Llm } from '../shared/llm';
import { runIfMain } from '../shared/main';
import { openProvider, providerReport, type Provider } from '../shared/provider';
import { Printer, type Output, type Summary } from '../shared/report';

type Target = 'primary' | 'secondary';
type FallbackReason = 'open circuit' | 'overloaded (529)' | 'rate limited (429)' | 'failed';

interface Served {
  text: string;
  servedBy: Target;
}

interface Shared {
  texts: string[];
  results?: Served[];
}

/** Counters shared by every copy of the node. */
interface RoutingStats {
  servedBy: Record<Target, number>;
  fallbacks: Record<FallbackReason, number>;
}

/** Why a failed primary call should go to the secondary, or `undefined` when it should not (a bad request fails everywhere). */
function fallbackReason(error: unknown): FallbackReason | undefined {
  if (isBrokenCircuitError(error)) return 'open circuit';
  const limited = detectRateLimit(error);
  if (limited?.kind === 'overloaded') return 'overloaded (529)';
  if (limited) return 'rate limited (429)';
  return shouldTripBreaker(error) ? 'failed' : undefined;
}

/**
 * Summarises each text with the primary provider, or the secondary when the primary is down.
 * The node's own limit (10 items at once) bounds the work in flight; each provider's limiter
 * bounds the calls to it.
 */
class ResilientSummariseNode extends ThrottledParallelBatchNode<Shared, string, Served> {
  override maxConcurrent = 10;

  constructor(
    private readonly llms: Record<Target, Llm>,
    private readonly limiters: Record<Target, Limiter>,
    private readonly breaker: CircuitBreaker,
    readonly routing: RoutingStats,
  ) {
    super();
  }

  override async prep(shared: Shared) {
    return shared.texts;
  }

  override async exec(text: string): Promise<Served> {
    const prompt = `Summarise: ${text}`;
    // 1. The primary, through its breaker (outside: an open circuit refuses at once, without
    //    waiting for a slot) and its limiter.
    try {
      const reply = await this.breaker.run(() => this.limiters.primary.run(() => this.llms.primary.complete(prompt)));
      return this.served('primary', reply.text);
    } catch (error) {
      const reason = fallbackReason(error);
      if (!reason) throw error;
      this.routing.fallbacks[reason]++;
      // A 429 means the primary is healthy but busy: pause its limiter for the retry-after.
      if (reason === 'rate limited (429)') {
        handleRateLimit(error, { limiter: this.limiters.primary, attempt: 0, backoffMs: 500, maxBackoffMs: 10_000, source: 'primary' });
      }
    }
    // 2. The secondary, through its own limiter. A 429 here goes back to the node, which pauses
    //    and retries the item (from the primary again, if it is back by then).
    const reply = await this.limiters.secondary.run(() => this.llms.secondary.complete(prompt));
    return this.served('secondary', reply.text);
  }

  override async post(shared: Shared, _texts: string[], results: Served[]) {
    shared.results = results;
    return undefined;
  }

  private served(target: Target, text: string): Served {
    this.routing.servedBy[target]++;
    return { text, servedBy: target };
  }
}

export interface ProviderOutageOptions extends Output {
  /** Texts to summarise. @default 60 */
  items?: number;
  /** How long the primary answers 529 to everything, from the start. @default 3000 */
  outageMs?: number;
  /** How long the open circuit waits before a trial call. @default 1000 */
  halfOpenAfterMs?: number;
}

export interface ProviderOutageSummary extends Summary {
  servedBy: Record<Target, number>;
  fallbacks: Record<FallbackReason, number>;
  /** Every breaker state change, with the time since the start. */
  transitions: { atMs: number; from: CircuitState; to: CircuitState }[];
  /** The breaker's state at the end. */
  finalState: CircuitState;
  /** 529s the primary simulator sent. */
  primary529s: number;
}

export async function run(options: ProviderOutageOptions = {}): Promise<ProviderOutageSummary> {
  const items = options.items ?? 60;
  const outageMs = options.outageMs ?? 3_000;
  const out = new Printer(options.quiet);
  const providers: Provider[] = [];
  let endOutage: ReturnType<typeof setTimeout> | undefined;
  try {
    const primary = await openProvider({
      name: 'primary',
      simulate: true,
      // Down from the start: every call answers 529 at once.
      simulator: { requestsPerWindow: 15, windowMs: 1_000, latencyMs: 150, jitterMs: 50, p529: 1 },
    });
    providers.push(primary);
    const secondary = await openProvider({
      name: 'secondary',
      dialect: 'anthropic',
      simulate: true,
      simulator: { requestsPerWindow: 10, windowMs: 1_000, latencyMs: 250, jitterMs: 100 },
    });
    providers.push(secondary);

    // Each provider has its own limiter, matching its own limits.
    const registry = new LimiterRegistry();
    registry.register('primary', { maxConcurrent: 8, maxPerWindow: 15, windowMs: 1_000, windowMarginMs: 200 });
    registry.register('secondary', { maxConcurrent: 5, maxPerWindow: 10, windowMs: 1_000, windowMarginMs: 200 });
    // 3 failures in a row open the circuit; after halfOpenAfterMs one trial call may try again.
    const breaker = new CircuitBreaker({ name: 'primary', consecutiveFailures: 3, halfOpenAfterMs: options.halfOpenAfterMs ?? 1_000 });

    const started = performance.now();
    const at = () => Math.round(performance.now() - started);
    const transitions: ProviderOutageSummary['transitions'] = [];
    breaker.on('stateChange', ({ from, to }) => {
      transitions.push({ atMs: at(), from, to });
      out.line(`  ${String(at()).padStart(5)} ms  breaker ${from} → ${to}`);
    });
    endOutage = setTimeout(() => {
      primary.simulator?.setOptions({ p529: 0 });
      out.line(`  ${String(at()).padStart(5)} ms  primary provider recovers`);
    }, outageMs);

    out.title(`provider-outage: ${items} texts; the primary answers 529 for the first ${outageMs} ms`);
    const routing: RoutingStats = {
      servedBy: { primary: 0, secondary: 0 },
      fallbacks: { 'open circuit': 0, 'overloaded (529)': 0, 'rate limited (429)': 0, failed: 0 },
    };
    const node = new ResilientSummariseNode(
      { primary: primary.llm, secondary: secondary.llm },
      { primary: registry.get('primary'), secondary: registry.get('secondary') },
      breaker,
      routing,
    );
    const shared: Shared = { texts: sampleDocuments(items) };
    await node.run(shared);
    const elapsedMs = performance.now() - started;

    const results = shared.results ?? [];
    out.results('results', results.map((r) => `[${r.servedBy}] ${r.text}`), 4);
    out.line(`served by: primary ${routing.servedBy.primary}, secondary ${routing.servedBy.secondary}`);
    out.stats('fell back because', routing.fallbacks);
    out.line(`breaker: ${breaker.state} at the end, ${transitions.length} state changes`);
    out.stats('node', node.stats);
    out.stats('primary limiter', registry.get('primary').stats());
    out.stats('secondary limiter', registry.get('secondary').stats());
    const primary529s = primary.simulator?.stats().faults.p529 ?? 0;
    out.line(`primary simulator sent ${primary529s} × 529`);

    const done = results.filter((r) => r.text.length > 0).length;
    const summary: ProviderOutageSummary = {
      example: 'provider-outage',
      items,
      done,
      lost: items - done,
      elapsedMs,
      providers: providers.map(providerReport),
      stats: { node: node.stats, primary: registry.get('primary').stats(), secondary: registry.get('secondary').stats() },
      servedBy: routing.servedBy,
      fallbacks: routing.fallbacks,
      transitions,
      finalState: breaker.state,
      primary529s,
    };
    out.summary(summary);
    return summary;
  } finally {
    clearTimeout(endOutage);
    await Promise.all(providers.map((p) => p.close()));
  }
}

runIfMain(import.meta.url, () => run());
