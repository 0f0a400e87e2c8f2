/**
 * Differential property test: fast-check generates random node graphs, each description is built
 * twice — once with npm `pocketflow`'s classes, once with throttleflow's — and both are run on
 * equal fresh shared state. They must leave the same trace (node ids, params seen, prep/exec/post
 * values, retry numbers, fallbacks), print the same console.warn messages, and end with the same
 * return value or the same error.
 *
 * The two deliberate fixes are kept out of the generator (they have their own tests in
 * flow.test.ts and batch-flow.test.ts):
 * - every Flow/BatchFlow/ParallelBatchFlow (nested or top level) overrides `post` to return an
 *   action that does not depend on its inner run, and never logs the `execRes` it receives
 *   (ours passes the inner last action, pocketflow passes undefined);
 * - BatchFlow/ParallelBatchFlow preps always return arrays (possibly empty), never undefined.
 * A third, later difference is kept out too: a ParallelBatchNode counts retries per item
 * (pocketflow shares one counter between items running at once; see `oneFailingItem` and
 * test/core/parallel-retries.test.ts).
 * Everything else — including BatchNode preps that return undefined, unknown actions, overwritten
 * successors, running a node with successors on its own — is generated.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as pf from 'pocketflow';
import * as tf from '../../src/index';

afterEach(() => {
  vi.restoreAllMocks();
});

// ---------------------------------------------------------------------------------------------
// Graph descriptions

type Action = string | undefined;

interface Edge {
  action: string;
  target: number;
}

interface Common {
  edges: Edge[];
  /** Params set on the node itself before the run (a flow replaces them with its own). */
  own: Record<string, number>;
  /** Wire `'default'` edges with `next()` instead of `on('default', …)`. */
  useNext: boolean;
}

interface LeafSpec extends Common {
  kind: 'node' | 'batch' | 'parallelBatch';
  maxRetries: number;
  /** `failures[item]`: how many of that item's first tries throw (≥ maxRetries: all of them). */
  failures: number[];
  fallback: 'none' | 'returns' | 'throws';
  /** Batch nodes: how many items prep returns; `null` → prep returns undefined (not an array). */
  items: number | null;
  /** Awaits inside exec, so parallel items interleave. */
  execTicks: number;
  /** Post returns `actions[visit % length]`. */
  actions: Action[];
}

interface FlowSpec extends Common {
  kind: 'flow' | 'batchFlow' | 'parallelBatchFlow';
  inner: GraphSpec;
  /** Batch flows: the param objects prep returns (always an array). */
  batch: Record<string, number>[];
  /** The fixed action the overridden post returns. */
  action: Action;
}

type NodeSpec = LeafSpec | FlowSpec;

interface GraphSpec {
  nodes: NodeSpec[];
}

interface Scenario {
  root: FlowSpec;
  params: Record<string, number>;
  /** `'flow'`: run the root flow; `'lone'`: run the root graph's start node on its own. */
  mode: 'flow' | 'lone';
}

/** Posts after this many steps return 'halt', which bounds every loop. */
const MAX_STEPS = 12;

const actionArb: fc.Arbitrary<Action> = fc.constantFrom<Action>(
  'default',
  'default',
  'a',
  'b',
  '',
  undefined,
  'zz',
);
const edgeActionArb = fc.constantFrom('default', 'default', 'a', 'b');
const paramsArb = fc.dictionary(fc.constantFrom('p', 'q', 'r'), fc.integer({ min: 0, max: 9 }), {
  maxKeys: 3,
});

function leafArb(kind: LeafSpec['kind'], n: number): fc.Arbitrary<LeafSpec> {
  return fc
    .record({
      kind: fc.constant(kind),
      edges: edgesArb(n),
      own: paramsArb,
      useNext: fc.boolean(),
      maxRetries: fc.noBias(fc.integer({ min: 1, max: 3 })),
      failures: fc.array(fc.noBias(fc.constantFrom(0, 0, 0, 1, 1, 2, 3)), { minLength: 3, maxLength: 3 }),
      fallback: fc.noBias(fc.constantFrom('none', 'returns', 'returns', 'throws')),
      items:
        kind === 'node'
          ? fc.constant(1)
          : fc.option(fc.noBias(fc.integer({ min: 0, max: 3 })), { nil: null, freq: 6 }),
      execTicks: fc.integer({ min: 0, max: 2 }),
      actions: fc.array(actionArb, { minLength: 1, maxLength: 3 }),
    })
    .map((spec) => (kind === 'parallelBatch' && spec.maxRetries > 1 ? oneFailingItem(spec) : spec));
}

/**
 * Third deliberate difference (test/core/parallel-retries.test.ts): pocketflow's parallel items
 * share one retry counter, so when two items of a ParallelBatchNode are retried at once, one can
 * skip the other's tries or end its loop with a silent `undefined`; throttleflow counts per item.
 * With retries on, only one item of a parallel batch node may fail; with maxRetries 1 (no
 * counter moves) every item may.
 */
function oneFailingItem(spec: LeafSpec): LeafSpec {
  const first = spec.failures.findIndex((n) => n > 0);
  return { ...spec, failures: spec.failures.map((n, i) => (i === first ? n : 0)) };
}

function edgesArb(n: number): fc.Arbitrary<Edge[]> {
  return fc.array(fc.record({ action: edgeActionArb, target: fc.integer({ min: 0, max: n - 1 }) }), {
    maxLength: 3,
  });
}

function flowArb(kind: FlowSpec['kind'], n: number, depth: number): fc.Arbitrary<FlowSpec> {
  return fc.record({
    kind: fc.constant(kind),
    edges: edgesArb(n),
    own: paramsArb,
    useNext: fc.boolean(),
    inner: graphArb(depth),
    batch: kind === 'flow' ? fc.constant([]) : fc.array(paramsArb, { maxLength: 3 }),
    action: actionArb,
  });
}

function graphArb(depth: number): fc.Arbitrary<GraphSpec> {
  return fc.integer({ min: 1, max: 4 }).chain((n) => {
    const leaves: [fc.WeightedArbitrary<NodeSpec>, ...fc.WeightedArbitrary<NodeSpec>[]] = [
      { arbitrary: leafArb('node', n), weight: 6 },
      { arbitrary: leafArb('batch', n), weight: 2 },
      { arbitrary: leafArb('parallelBatch', n), weight: 2 },
    ];
    const flows =
      depth > 0
        ? [
            { arbitrary: flowArb('flow', n, depth - 1), weight: 2 },
            { arbitrary: flowArb('batchFlow', n, depth - 1), weight: 1 },
            { arbitrary: flowArb('parallelBatchFlow', n, depth - 1), weight: 1 },
          ]
        : [];
    return fc.record({ nodes: fc.array(fc.oneof(...leaves, ...flows), { minLength: n, maxLength: n }) });
  });
}

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  root: fc.oneof(
    { arbitrary: flowArb('flow', 1, 2), weight: 3 },
    { arbitrary: flowArb('batchFlow', 1, 1), weight: 1 },
    { arbitrary: flowArb('parallelBatchFlow', 1, 1), weight: 1 },
  ),
  params: paramsArb,
  mode: fc.constantFrom('flow', 'flow', 'flow', 'flow', 'lone'),
});

// ---------------------------------------------------------------------------------------------
// Building one description with either library

/** The six classes, typed as pocketflow's: throttleflow's are a drop-in superset. */
interface Lib {
  Node: typeof pf.Node;
  BatchNode: typeof pf.BatchNode;
  ParallelBatchNode: typeof pf.ParallelBatchNode;
  Flow: typeof pf.Flow;
  BatchFlow: typeof pf.BatchFlow;
  ParallelBatchFlow: typeof pf.ParallelBatchFlow;
}

const pocketflow: Lib = pf;
const throttleflow = tf as unknown as Lib;

interface Shared {
  trace: string[];
  steps: number;
  visits: Record<string, number>;
}

const show = (value: unknown) => (value === undefined ? 'undefined' : JSON.stringify(value));
const tick = async (n: number) => {
  for (let i = 0; i < n; i++) await Promise.resolve();
};

function leafClasses(Base: typeof pf.Node, batch: boolean) {
  class Leaf extends Base<Shared> {
    constructor(
      readonly id: string,
      readonly spec: LeafSpec,
    ) {
      super(spec.maxRetries, 0);
    }
    /** Written on `this` at each visit: shows whether copies leak state into later visits. */
    mark: number | undefined;

    private get paramsSeen() {
      return show((this as unknown as { _params: unknown })._params);
    }

    override async prep(shared: Shared) {
      const visit = (shared.visits[this.id] = (shared.visits[this.id] ?? 0) + 1);
      shared.trace.push(`${this.id} prep visit=${visit} params=${this.paramsSeen} mark=${show(this.mark)}`);
      this.mark = visit;
      if (!batch) return `${this.id}#${visit}`;
      if (this.spec.items === null) return undefined;
      return Array.from({ length: this.spec.items }, (_, i) => `${this.id}#${visit}.${i}`);
    }

    override async exec(prepRes: unknown) {
      const attempt = this.currentRetry;
      runShared().trace.push(`${this.id} exec ${show(prepRes)} try=${attempt} params=${this.paramsSeen}`);
      const item = batch ? Number(String(prepRes).split('.').pop()) : 0;
      // Ticks vary by item, try and visit so that parallel items and sub-flows interleave.
      await tick((this.spec.execTicks + item + attempt + (this.mark ?? 0)) % 3);
      if (attempt < (this.spec.failures[item] ?? 0))
        throw new Error(`${this.id} failed on ${show(prepRes)} try ${attempt}`);
      return `${String(prepRes)}->${attempt}`;
    }

    override async post(s: Shared, prepRes: unknown, execRes: unknown) {
      s.steps++;
      s.trace.push(`${this.id} post prep=${show(prepRes)} exec=${show(execRes)} retry=${this.currentRetry}`);
      if (s.steps >= MAX_STEPS) return 'halt';
      const actions = this.spec.actions;
      return actions[((this.mark ?? 1) - 1) % actions.length];
    }
  }

  class LeafWithFallback extends Leaf {
    override async execFallback(prepRes: unknown, error: Error) {
      runShared().trace.push(
        `${this.id} fallback ${show(prepRes)} error=${error.message} retry=${this.currentRetry}`,
      );
      if (this.spec.fallback === 'throws') throw new Error(`${this.id} fallback failed for ${show(prepRes)}`);
      return `fallback(${String(prepRes)})`;
    }
  }
  return { Leaf, LeafWithFallback };
}

/** exec and execFallback do not receive the shared state: they log into the current run's. */
let currentShared: Shared | undefined;
function runShared(): Shared {
  if (!currentShared) throw new Error('no run in progress');
  return currentShared;
}

function flowClasses(lib: Lib) {
  const hooks = (id: string, spec: FlowSpec) => ({
    async prep(node: object, s: Shared) {
      s.trace.push(`${id} flow-prep params=${show((node as { _params: unknown })._params)}`);
      return spec.kind === 'flow' ? `${id}-prep` : spec.batch.map((bp) => ({ ...bp }));
    },
    async post(s: Shared, prepRes: unknown) {
      // execRes is deliberately not logged: it is where deliberate fix 1 differs.
      s.steps++;
      s.trace.push(`${id} flow-post prep=${show(prepRes)}`);
      return s.steps >= MAX_STEPS ? 'halt' : spec.action;
    },
  });
  const make = (Base: typeof pf.Flow) =>
    class extends Base<Shared> {
      readonly hooks: ReturnType<typeof hooks>;
      constructor(id: string, spec: FlowSpec, start: pf.BaseNode) {
        super(start);
        this.hooks = hooks(id, spec);
      }
      override async prep(s: Shared) {
        return (await this.hooks.prep(this, s)) as never;
      }
      override async post(s: Shared, prepRes: unknown) {
        return this.hooks.post(s, prepRes);
      }
    };
  return {
    flow: make(lib.Flow),
    batchFlow: make(lib.BatchFlow),
    parallelBatchFlow: make(lib.ParallelBatchFlow),
  };
}

function makeBuilder(lib: Lib) {
  const leaves = {
    node: leafClasses(lib.Node, false),
    batch: leafClasses(lib.BatchNode, true),
    parallelBatch: leafClasses(lib.ParallelBatchNode, true),
  };
  const flows = flowClasses(lib);
  const log: string[] = [];

  function buildNode(spec: NodeSpec, id: string): pf.BaseNode {
    if ('inner' in spec)
      return new flows[spec.kind](id, spec, buildGraph(spec.inner, `${id}/`)).setParams(spec.own);
    const { Leaf, LeafWithFallback } = leaves[spec.kind];
    return (spec.fallback === 'none' ? new Leaf(id, spec) : new LeafWithFallback(id, spec)).setParams(
      spec.own,
    );
  }

  function buildGraph(graph: GraphSpec, prefix: string): pf.BaseNode {
    const nodes = graph.nodes.map((spec, i) => buildNode(spec, `${prefix}${spec.kind}${i}`));
    graph.nodes.forEach((spec, i) => {
      for (const edge of spec.edges) {
        const from = nodes[i]!;
        const to = nodes[edge.target]!;
        if (edge.action === 'default' && spec.useNext) {
          if (from.next(to) !== to) log.push(`${prefix}${i}: next() did not return its argument`);
        } else if (from.on(edge.action, to) !== from) {
          log.push(`${prefix}${i}: on() did not return the node`);
        }
      }
    });
    return nodes[0]!;
  }

  return {
    log,
    build(scenario: Scenario): pf.BaseNode {
      if (scenario.mode === 'lone') return buildGraph(scenario.root.inner, '');
      return buildNode(scenario.root, 'root').setParams(scenario.params);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Running and comparing

interface Observation {
  trace: string[];
  warnings: string[];
  buildLog: string[];
  outcome: { ok: true; value: unknown } | { ok: false; error: string };
}

/** Lets background work (parallel branches still running after a rejection) finish. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

async function observe(lib: Lib, scenario: Scenario): Promise<Observation> {
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  try {
    const builder = makeBuilder(lib);
    const root = builder.build(scenario);
    const s: Shared = { trace: [], steps: 0, visits: {} };
    currentShared = s;
    let outcome: Observation['outcome'];
    try {
      outcome = { ok: true, value: await root.run(s) };
    } catch (error) {
      outcome = { ok: false, error: `${(error as Error).constructor.name}: ${(error as Error).message}` };
    }
    await settle();
    return {
      trace: s.trace,
      warnings: warn.mock.calls.map((args) => args.map(String).join(' ')),
      buildLog: builder.log,
      outcome,
    };
  } finally {
    currentShared = undefined;
    warn.mockRestore();
  }
}

describe('differential: throttleflow behaves exactly like pocketflow', () => {
  it('on random graphs (branches, bounded loops, retries, fallbacks, batch and nested flows)', async () => {
    let rejected = 0;
    let warned = 0;
    let longest = 0;
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const theirs = await observe(pocketflow, scenario);
        const ours = await observe(throttleflow, scenario);
        expect(ours.buildLog).toEqual([]);
        expect(theirs.buildLog).toEqual([]);
        expect(ours.trace).toEqual(theirs.trace);
        expect(ours.warnings).toEqual(theirs.warnings);
        expect(ours.outcome).toEqual(theirs.outcome);
        if (!ours.outcome.ok) rejected++;
        if (ours.warnings.length) warned++;
        longest = Math.max(longest, ours.trace.length);
      }),
      { numRuns: 200 },
    );
    // The generator must actually reach the interesting cases.
    expect(rejected).toBeGreaterThan(5);
    expect(warned).toBeGreaterThan(20);
    expect(longest).toBeGreaterThan(20);
  });
});
