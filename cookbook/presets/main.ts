/**
 * Presets: ready-made limits for common providers and tiers, for nodes (`Presets`) and for
 * throttled flows (`FlowPresets`) — spread into options, read into subclass fields, looked up
 * by name, overridden.
 *
 * The presets are per-minute limits, like the providers' own. Each simulated provider here is
 * configured exactly like the tier its preset describes (e.g. OpenAI tier 1: 60 requests per
 * minute), and each part sends fewer calls than one minute allows, so concurrency is what you
 * see binding. The last part shows the per-minute window binding too: a limiter made from
 * `Presets.OPENAI_FREE` (3 per minute) refuses a 4th call within a 300 ms timeout.
 *
 *   npx tsx cookbook/presets/main.ts
 *   PRESET=openai_tier2 npx tsx cookbook/presets/main.ts   # pick the first part's preset by name
 */
import {
  FlowPresets,
  Limiter,
  Node,
  Presets,
  ThrottledAsyncParallelBatchFlow,
  ThrottledParallelBatchNode,
  isLimiterTimeoutError,
  type ThrottledNodeOptions,
} from '../../src/index';
import { sampleDocuments } from '../data/sample-texts';
import type { Llm } from '../shared/llm';
import { runIfMain } from '../shared/main';
import { openProvider, providerReport, type Provider } from '../shared/provider';
import { Printer, type Output, type Summary } from '../shared/report';

interface Shared {
  texts: string[];
  summaries?: string[];
}

/** A generic summarising node: its limits come from whatever options it is given. */
class SummariseNode extends ThrottledParallelBatchNode<Shared, string, string> {
  constructor(
    private readonly llm: Llm,
    options?: ThrottledNodeOptions,
  ) {
    super(options);
  }
  override async prep(shared: Shared): Promise<string[]> {
    return shared.texts;
  }
  override async exec(text: string): Promise<string> {
    return (await this.llm.complete(`Summarise in five words: ${text}`)).text;
  }
  override async post(shared: Shared, _texts: string[], out: string[]): Promise<string> {
    shared.summaries = out;
    return 'default';
  }
}

/** Limits as subclass fields, read from a preset (here Anthropic's standard tier: 5 at once, 50 per minute). */
class AnthropicSummariseNode extends SummariseNode {
  override maxConcurrent = Presets.ANTHROPIC_STANDARD.maxConcurrent;
  override maxPerMinute = Presets.ANTHROPIC_STANDARD.maxPerMinute;
}

/** One node of a per-user flow: a single call with the user's id in its params. */
class GreetUserNode extends Node<{ greetings: Map<number, string> }, { userId: number }> {
  constructor(private readonly llm: Llm) {
    super();
  }
  override async exec(): Promise<string> {
    return (await this.llm.complete(`Write a one-line welcome for user ${this.params.userId}`)).text;
  }
  override async post(
    shared: { greetings: Map<number, string> },
    _p: unknown,
    greeting: string,
  ): Promise<undefined> {
    shared.greetings.set(this.params.userId, greeting);
    return undefined;
  }
}

/** A flow whose limits are subclass fields read from a flow preset. */
class GreetUsersFlow extends ThrottledAsyncParallelBatchFlow<{
  greetings: Map<number, string>;
  userIds: number[];
}> {
  override maxConcurrentFlows = FlowPresets.MODERATE.maxConcurrentFlows;
  override maxFlowsPerMinute = FlowPresets.MODERATE.maxFlowsPerMinute;
  override async prep(shared: { userIds: number[] }) {
    return shared.userIds.map((userId) => ({ userId }));
  }
}

export interface PresetsOptions extends Output {
  /** Calls per part (each part stays under its preset's per-minute limit). @default 24 */
  items?: number;
  /** The first part's node preset, by name. @default process.env.PRESET ?? 'openai_tier1' */
  preset?: string;
  /** Always use the simulator, even with an API key set. @default false */
  simulate?: boolean;
}

export interface PresetsSummary extends Summary {
  /** Per part: the preset used, its limits, and the most calls the provider had in flight. */
  parts: { part: string; preset: string; limits: object; calls: number; maxInFlight: number }[];
  /** Whether the 4th call on an OPENAI_FREE limiter (3 per minute) was refused within its timeout. */
  perMinuteLimitBinds: boolean;
}

export async function run(options: PresetsOptions = {}): Promise<PresetsSummary> {
  const items = options.items ?? 24;
  const presetName = options.preset ?? process.env.PRESET ?? 'openai_tier1';
  const out = new Printer(options.quiet);
  // Case-insensitive; an unknown name throws an InvalidOptionError listing the known ones.
  const chosen: { maxConcurrent: number; maxPerMinute?: number } = Presets.get(presetName);
  if (items > (chosen.maxPerMinute ?? Infinity) || items > Presets.ANTHROPIC_STANDARD.maxPerMinute) {
    out.line(
      `note: ${items} calls are more than one minute of a preset allows; the run will wait for the next minute`,
    );
  }
  const providers: Provider[] = [];
  const open = async (dialect: 'openai' | 'anthropic', name: string, perMinute: number | undefined) => {
    const provider = await openProvider({
      name,
      dialect,
      simulate: options.simulate,
      // A provider configured like the tier: `perMinute` requests per 60 s window.
      simulator: { requestsPerWindow: perMinute, windowMs: 60_000, latencyMs: 200, jitterMs: 100 },
    });
    providers.push(provider);
    return provider;
  };

  try {
    out.title('presets');
    out.line(`node presets: ${Presets.list().join(', ')}`);
    out.line(`flow presets: ${FlowPresets.list().join(', ')}`);
    const started = performance.now();
    const parts: PresetsSummary['parts'] = [];
    let done = 0;

    // 1. Spread a preset into the constructor options (overriding one field is a spread away).
    const openai = await open('openai', `openai (${presetName})`, chosen.maxPerMinute);
    const spread = { ...chosen };
    const node1 = new SummariseNode(openai.llm, spread);
    const shared1: Shared = { texts: sampleDocuments(items) };
    await node1.run(shared1);
    out.line(`\n1. new SummariseNode(llm, { ...Presets.get('${presetName}') }) = ${JSON.stringify(spread)}`);
    out.results('summaries', shared1.summaries ?? [], 2);
    out.stats('node stats', node1.stats);
    out.provider(providerReport(openai));
    done += shared1.summaries?.length ?? 0;
    parts.push({
      part: 'spread',
      preset: presetName,
      limits: spread,
      calls: openai.llm.counters.calls,
      maxInFlight: openai.llm.counters.maxInFlight,
    });

    // 2. Read a preset into subclass fields.
    const anthropic = await open(
      'anthropic',
      'anthropic (ANTHROPIC_STANDARD)',
      Presets.ANTHROPIC_STANDARD.maxPerMinute,
    );
    const node2 = new AnthropicSummariseNode(anthropic.llm);
    const shared2: Shared = { texts: sampleDocuments(items) };
    await node2.run(shared2);
    out.line(
      `\n2. class AnthropicSummariseNode { maxConcurrent = Presets.ANTHROPIC_STANDARD.maxConcurrent; maxPerMinute = … }`,
    );
    out.results('summaries', shared2.summaries ?? [], 2);
    out.stats('node stats', node2.stats);
    out.provider(providerReport(anthropic));
    done += shared2.summaries?.length ?? 0;
    parts.push({
      part: 'fields',
      preset: 'ANTHROPIC_STANDARD',
      limits: { ...Presets.ANTHROPIC_STANDARD },
      calls: anthropic.llm.counters.calls,
      maxInFlight: anthropic.llm.counters.maxInFlight,
    });

    // 3. Flow presets: as subclass fields, and spread into the constructor.
    const flowProvider = await open('openai', 'openai (flows)', undefined);
    const fieldsFlow = new GreetUsersFlow(new GreetUserNode(flowProvider.llm));
    const shared3 = { greetings: new Map<number, string>(), userIds: range(items) };
    await fieldsFlow.run(shared3);
    const spreadFlow = new ThrottledAsyncParallelBatchFlow<typeof shared3>(
      new GreetUserNode(flowProvider.llm),
      FlowPresets.BATCH_PROCESSING,
    );
    spreadFlow.prep = async (shared) => shared.userIds.map((userId) => ({ userId: userId + items }));
    await spreadFlow.run(shared3);
    out.line(
      `\n3. class GreetUsersFlow { maxConcurrentFlows = FlowPresets.MODERATE.maxConcurrentFlows; … }, then`,
    );
    out.line(`   new ThrottledAsyncParallelBatchFlow(start, FlowPresets.BATCH_PROCESSING)`);
    out.results('greetings', [...shared3.greetings.values()], 2);
    out.stats('MODERATE flow stats', fieldsFlow.stats);
    out.stats('BATCH_PROCESSING flow stats', spreadFlow.stats);
    out.provider(providerReport(flowProvider));
    done += shared3.greetings.size;
    parts.push({
      part: 'flows',
      preset: 'MODERATE + BATCH_PROCESSING',
      limits: { moderate: { ...FlowPresets.MODERATE }, batch: { ...FlowPresets.BATCH_PROCESSING } },
      calls: flowProvider.llm.counters.calls,
      maxInFlight: flowProvider.llm.counters.maxInFlight,
    });

    // 4. The per-minute window binds: OPENAI_FREE allows 3 calls per minute.
    const free = new Limiter({ ...Presets.OPENAI_FREE, name: 'openai-free' });
    for (let i = 0; i < 3; i++) (await free.acquire()).release();
    let perMinuteLimitBinds = false;
    try {
      (await free.acquire({ timeoutMs: 300 })).release();
    } catch (error) {
      if (!isLimiterTimeoutError(error)) throw error;
      perMinuteLimitBinds = true;
    }
    out.line(`\n4. Presets.OPENAI_FREE = ${JSON.stringify(Presets.OPENAI_FREE)}: 3 calls started at once;`);
    out.line(
      `   a 4th ${perMinuteLimitBinds ? 'is refused (LimiterTimeoutError after 300 ms): it would wait for the next minute' : 'started (unexpected)'}`,
    );
    out.stats('limiter stats', free.stats());

    const summary: PresetsSummary = {
      example: 'presets',
      items: items * 4,
      done,
      lost: items * 4 - done,
      elapsedMs: performance.now() - started,
      providers: providers.map(providerReport),
      stats: {
        spreadNode: node1.stats,
        fieldsNode: node2.stats,
        moderateFlow: fieldsFlow.stats,
        batchFlow: spreadFlow.stats,
        free: free.stats(),
      },
      parts,
      perMinuteLimitBinds,
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
