/**
 * Provider outage: the primary provider answers every call with 529 "overloaded" for a while;
 * a circuit breaker notices, calls go to a secondary provider meanwhile, and once the primary
 * is back a half-open trial call closes the circuit and traffic returns to it. Every item
 * finishes.
 *
 * The routing is throttleflow's own: a fallback chain (`withFallback`, from
 * `throttleflow/routing`) over two targets, each with its own limiter from a LimiterRegistry, the
 * primary behind a `CircuitBreaker` (from `throttleflow/resilience`). A throttled node runs the
 * texts through the chain, 10 at a time.
 *
 * The outage is staged on the simulator (`p529: 1`, then `p529: 0`), so this example always
 * runs against simulators, API keys or not.
 *
 *   npx tsx cookbook/provider-outage/main.ts
 */
import { LimiterRegistry, ThrottledParallelBatchNode, isRateLimitHit } from '../../src/index';
import { detectRateLimit } from '../../src/providers/index';
import { CircuitBreaker, isBrokenCircuitError, type CircuitState } from '../../src/resilience/index';
import {
  withFallback,
  type FallbackChain,
  type FallbackStats,
  type FallbackTarget,
} from '../../src/routing/index';
import { sampleDocuments } from '../data/sample-texts';
import type { Llm } from '../shared/llm';
import { runIfMain } from '../shared/main';
import { openProvider, providerReport, type Provider } from '../shared/provider';
import { Printer, type Output, type Summary } from '../shared/report';

type Target = 'primary' | 'secondary';
/** Why a text did not go to (or stay with) the primary. */
type FallbackReason =
  'open circuit' | 'limiter paused' | 'overloaded (529)' | 'rate limited (429)' | 'failed';

interface Served {
  text: string;
  servedBy: Target;
}

interface Shared {
  texts: string[];
  results?: Served[];
}

/**
 * Why the chain moved a call on from the primary. A 429 or 529 reaches the chain's `failover`
 * event as a `RateLimitHit` whose `cause` is the provider's error, so the kind is read from that.
 */
function fallbackReason(error: unknown): FallbackReason {
  if (isBrokenCircuitError(error)) return 'open circuit';
  const limited = detectRateLimit(isRateLimitHit(error) && error.cause !== undefined ? error.cause : error);
  if (limited?.kind === 'overloaded') return 'overloaded (529)';
  if (limited) return 'rate limited (429)';
  return 'failed';
}

/** One target of the chain: summarise with `llm`, and say who served. */
function summariseWith(name: Target, llm: Llm): FallbackTarget<string, Served> {
  return {
    name,
    limiter: name, // the limiter registered under the same name
    call: async (text, signal) => ({
      text: (await llm.complete(`Summarise: ${text}`, { signal })).text,
      servedBy: name,
    }),
  };
}

/**
 * Summarises each text through the chain: the primary while its circuit is closed, else the
 * secondary. The node's own limit (10 texts at once) bounds the work in flight, so texts keep
 * arriving at the chain during the outage; each provider's limiter bounds the calls to it.
 */
class ResilientSummariseNode extends ThrottledParallelBatchNode<Shared, string, Served> {
  override maxConcurrent = 10;

  constructor(private readonly chain: FallbackChain<string, Served>) {
    super({ maxRetries: 3 });
  }

  override async prep(shared: Shared) {
    return shared.texts;
  }

  override async exec(text: string, signal?: AbortSignal): Promise<Served> {
    return this.chain.call(text, { signal });
  }

  override async post(shared: Shared, _texts: string[], results: Served[]) {
    shared.results = results;
    return undefined;
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
  /** Texts served by each provider (the chain's `stats().servedBy`). */
  servedBy: Record<Target, number>;
  /** Why calls moved on from the primary (its `failover` and `skip` events). */
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
    registry.register('primary', {
      maxConcurrent: 8,
      maxPerWindow: 15,
      windowMs: 1_000,
      windowMarginMs: 200,
    });
    registry.register('secondary', {
      maxConcurrent: 5,
      maxPerWindow: 10,
      windowMs: 1_000,
      windowMarginMs: 200,
    });
    // 3 failures in a row open the circuit (529s and 5xx count, 429s do not); after
    // halfOpenAfterMs one trial call may try again.
    const breaker = new CircuitBreaker({
      name: 'primary',
      consecutiveFailures: 3,
      halfOpenAfterMs: options.halfOpenAfterMs ?? 1_000,
    });

    const chain = withFallback<string, Served>(
      [
        { ...summariseWith('primary', primary.llm), circuitBreaker: breaker },
        // The last resort: its 429s are retried through its limiter (after the pause) rather than given up.
        { ...summariseWith('secondary', secondary.llm), maxRateLimitRetries: 3 },
      ],
      // A 529 without retry-after pauses the primary's limiter for 125–250 ms (calls pass it by
      // meanwhile); the breaker is what keeps it out for the rest of the outage.
      { name: 'summarise', registry, rateLimitBackoffMs: 250 },
    );

    const started = performance.now();
    const at = () => Math.round(performance.now() - started);
    const transitions: ProviderOutageSummary['transitions'] = [];
    breaker.on('stateChange', ({ from, to }) => {
      transitions.push({ atMs: at(), from, to });
      out.line(`  ${String(at()).padStart(5)} ms  breaker ${from} → ${to}`);
    });
    const fallbacks: Record<FallbackReason, number> = {
      'open circuit': 0,
      'limiter paused': 0,
      'overloaded (529)': 0,
      'rate limited (429)': 0,
      failed: 0,
    };
    chain.on('failover', ({ from, error }) => {
      if (from === 'primary') fallbacks[fallbackReason(error)]++;
    });
    chain.on('skip', ({ target }) => {
      if (target === 'primary') fallbacks['limiter paused']++;
    });
    endOutage = setTimeout(() => {
      primary.simulator?.setOptions({ p529: 0 });
      out.line(`  ${String(at()).padStart(5)} ms  primary provider recovers`);
    }, outageMs);

    out.title(`provider-outage: ${items} texts; the primary answers 529 for the first ${outageMs} ms`);
    const node = new ResilientSummariseNode(chain);
    const shared: Shared = { texts: sampleDocuments(items) };
    await node.run(shared);
    const elapsedMs = performance.now() - started;

    const chainStats: FallbackStats = chain.stats();
    const servedBy: Record<Target, number> = {
      primary: chainStats.servedBy.primary ?? 0,
      secondary: chainStats.servedBy.secondary ?? 0,
    };
    const results = shared.results ?? [];
    out.results(
      'results',
      results.map((r) => `[${r.servedBy}] ${r.text}`),
      4,
    );
    out.line(`served by: primary ${servedBy.primary}, secondary ${servedBy.secondary}`);
    out.stats('left the primary because', fallbacks);
    out.line(`breaker: ${breaker.state} at the end, ${transitions.length} state changes`);
    out.stats('node', node.stats);
    out.stats('chain', {
      calls: chainStats.calls,
      served: chainStats.served,
      fellBack: chainStats.fellBack,
      failed: chainStats.failed,
    });
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
      stats: {
        node: node.stats,
        chain: chainStats,
        primary: registry.get('primary').stats(),
        secondary: registry.get('secondary').stats(),
      },
      servedBy,
      fallbacks,
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
