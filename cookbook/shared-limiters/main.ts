/**
 * Shared rate limiters with LimiterRegistry: one budget per API, used by every node that calls it.
 *
 * 1. Register 'openai' once; two different nodes draw from it at the same time — one as a
 *    throttled node (`limiter = 'openai'`), one with `LimiterRegistry.get('openai').run(…)`
 *    around each call (the reference cookbook's `async with`). Together they never pass 10 in
 *    flight or 20 per second.
 * 2. Several APIs with different limits: 'openai', 'anthropic' and 'internal_api' (concurrency
 *    only), each call through its own limiter.
 * 3. Lazy registration: `LimiterRegistry.getOrCreate('my_api', …)` makes the limiter the first
 *    time and returns the same one afterwards.
 *
 *   npx tsx cookbook/shared-limiters/main.ts
 */
import {
  Limiter,
  LimiterRegistry,
  ParallelBatchNode,
  ThrottledParallelBatchNode,
  handleRateLimit,
  type LimiterStats,
} from '../../src/index';
import { sampleDocuments } from '../data/sample-texts';
import type { Llm } from '../shared/llm';
import { runIfMain } from '../shared/main';
import { openProvider, providerReport, type Provider } from '../shared/provider';
import { Printer, type Output, type Summary } from '../shared/report';

/** The names this example registers (removed again at the end of `run`). */
const NAMES = ['openai', 'anthropic', 'internal_api', 'my_api'];

/**
 * `limiter.run(fn)` around a call, as in the reference's `async with LimiterRegistry.get(…)`.
 * A 429 is handled here: `handleRateLimit` pauses the shared limiter for the provider's
 * retry-after (so every node using it waits, not just this call) and the call goes round again.
 * A throttled node does all of this for you.
 */
async function callThrough<T>(name: string, fn: () => Promise<T>, maxRateLimits = 10): Promise<T> {
  const limiter = LimiterRegistry.get(name);
  for (let attempt = 0; ; attempt++) {
    try {
      return await limiter.run(fn);
    } catch (error) {
      const outcome = handleRateLimit(error, {
        limiter,
        attempt,
        backoffMs: 500,
        maxBackoffMs: 10_000,
        source: name,
      });
      if (outcome.kind === 'none') throw error;
      if (outcome.kind === 'fatal' || attempt >= maxRateLimits) throw outcome.error;
    }
  }
}

interface Shared {
  texts: string[];
  summaries?: string[];
  keywords?: string[];
  combined?: string[];
  lookups?: string[];
}

/** Node 1: a throttled node on the shared limiter (429s handled by the node). */
class SummariseNode extends ThrottledParallelBatchNode<Shared, string, string> {
  override limiter = 'openai';
  constructor(private readonly llm: Llm) {
    super();
  }
  override async prep(shared: Shared) {
    return shared.texts;
  }
  override async exec(text: string) {
    return (await this.llm.complete(`Summarise: ${text}`)).text;
  }
  override async post(shared: Shared, _t: string[], out: string[]) {
    shared.summaries = out;
    return undefined;
  }
}

/** Node 2: a plain parallel node that takes a slot of the same limiter around each call. */
class KeywordsNode extends ParallelBatchNode<Shared, object, string, string> {
  constructor(private readonly llm: Llm) {
    super();
  }
  override async prep(shared: Shared) {
    return shared.texts;
  }
  override async exec(text: string) {
    // Same limiter: total concurrent calls across both nodes ≤ 10.
    return callThrough('openai', async () => (await this.llm.complete(`Three keywords for: ${text}`)).text);
  }
  override async post(shared: Shared, _t: string[], out: string[]) {
    shared.keywords = out;
    return undefined;
  }
}

/** A stand-in for an internal service: 30 ms, no rate limit of its own. */
async function internalLookup(text: string): Promise<string> {
  await new Promise((resolve) => setTimeout(resolve, 30));
  return `${text.length} chars`;
}

/** Calls three APIs per item, each through its own limiter. */
class MultiApiNode extends ParallelBatchNode<Shared, object, string, string> {
  constructor(
    private readonly openai: Llm,
    private readonly anthropic: Llm,
  ) {
    super();
  }
  override async prep(shared: Shared) {
    return shared.texts;
  }
  override async exec(text: string) {
    const a = await callThrough('openai', async () => (await this.openai.complete(`Tone of: ${text}`)).text);
    const b = await callThrough(
      'anthropic',
      async () => (await this.anthropic.complete(`Topic of: ${text}`)).text,
    );
    const c = await callThrough('internal_api', () => internalLookup(text));
    return `openai → ${a.slice(0, 30)}… | anthropic → ${b.slice(0, 30)}… | internal → ${c}`;
  }
  override async post(shared: Shared, _t: string[], out: string[]) {
    shared.combined = out;
    return undefined;
  }
}

/** Registers 'my_api' on first use and reuses it afterwards. */
class FlexibleNode extends ParallelBatchNode<Shared, object, string, string> {
  readonly seen = new Set<Limiter>();
  override async prep(shared: Shared) {
    return shared.texts;
  }
  override async exec(text: string) {
    // Creates the limiter if it does not exist, reuses it if it does.
    const limiter = LimiterRegistry.getOrCreate('my_api', {
      maxConcurrent: 10,
      maxPerWindow: 100,
      windowMs: 1_000,
    });
    this.seen.add(limiter);
    return limiter.run(() => internalLookup(text));
  }
  override async post(shared: Shared, _t: string[], out: string[]) {
    shared.lookups = out;
    return undefined;
  }
}

export interface SharedLimitersOptions extends Output {
  /** Texts per node. @default 30 */
  items?: number;
  /** Always use the simulator, even with an API key set. @default false */
  simulate?: boolean;
}

export interface SharedLimitersSummary extends Summary {
  /** Stats of every registered limiter, by name. */
  limiters: Record<string, LimiterStats>;
  /** How many distinct limiters getOrCreate('my_api') returned over all calls (1). */
  lazyInstances: number;
}

export async function run(options: SharedLimitersOptions = {}): Promise<SharedLimitersSummary> {
  const items = options.items ?? 30;
  const out = new Printer(options.quiet);
  const providers: Provider[] = [];
  try {
    const openai = await openProvider({
      name: 'openai',
      simulate: options.simulate,
      simulator: { requestsPerWindow: 20, windowMs: 1_000, latencyMs: 200, jitterMs: 100 },
    });
    providers.push(openai);
    const anthropic = await openProvider({
      name: 'anthropic',
      dialect: 'anthropic',
      simulate: options.simulate,
      simulator: { requestsPerWindow: 10, windowMs: 1_000, latencyMs: 250, jitterMs: 100 },
    });
    providers.push(anthropic);

    // Register at start-up, once. (windowMarginMs: room for localhost jitter on a 1 s window.)
    LimiterRegistry.register('openai', {
      maxConcurrent: 10,
      maxPerWindow: 20,
      windowMs: 1_000,
      windowMarginMs: 200,
    });
    LimiterRegistry.register('anthropic', {
      maxConcurrent: 5,
      maxPerWindow: 10,
      windowMs: 1_000,
      windowMarginMs: 200,
    });
    LimiterRegistry.register('internal_api', { maxConcurrent: 20 });
    const started = performance.now();

    out.title(
      `shared-limiters 1/3: two nodes, ${items} texts each, one 'openai' limiter (10 at once, 20 per second)`,
    );
    const shared: Shared = { texts: sampleDocuments(items) };
    await Promise.all([new SummariseNode(openai.llm).run(shared), new KeywordsNode(openai.llm).run(shared)]);
    out.results('summaries', shared.summaries ?? [], 2);
    out.results('keywords', shared.keywords ?? [], 2);
    out.stats("'openai' limiter", LimiterRegistry.get('openai').stats());
    out.provider(providerReport(openai));

    out.title(`shared-limiters 2/3: three APIs per item, each with its own limit`);
    const multi: Shared = { texts: sampleDocuments(Math.ceil(items / 2)) };
    await new MultiApiNode(openai.llm, anthropic.llm).run(multi);
    out.results('combined', multi.combined ?? [], 2);
    for (const name of ['openai', 'anthropic', 'internal_api'])
      out.stats(`'${name}' limiter`, LimiterRegistry.get(name).stats());

    out.title('shared-limiters 3/3: lazy registration with getOrCreate');
    const lazy: Shared = { texts: sampleDocuments(items) };
    const flexible = new FlexibleNode();
    await flexible.run(lazy);
    out.results('lookups', lazy.lookups ?? [], 2);
    out.line(
      `getOrCreate('my_api') returned ${flexible.seen.size} limiter for ${items} calls; registered: ${LimiterRegistry.names().join(', ')}`,
    );
    out.stats("'my_api' limiter", LimiterRegistry.get('my_api').stats());

    const limiters = Object.fromEntries(NAMES.map((name) => [name, LimiterRegistry.get(name).stats()]));
    const total = items * 2 + multi.texts.length + items;
    const done = [shared.summaries, shared.keywords, multi.combined, lazy.lookups].reduce(
      (n, list) => n + (list ?? []).filter((r) => r.length > 0).length,
      0,
    );
    const summary: SharedLimitersSummary = {
      example: 'shared-limiters',
      items: total,
      done,
      lost: total - done,
      elapsedMs: performance.now() - started,
      providers: providers.map(providerReport),
      stats: limiters,
      limiters,
      lazyInstances: flexible.seen.size,
    };
    out.summary(summary);
    return summary;
  } finally {
    for (const name of NAMES) LimiterRegistry.remove(name);
    await Promise.all(providers.map((p) => p.close()));
  }
}

runIfMain(import.meta.url, () => run());
