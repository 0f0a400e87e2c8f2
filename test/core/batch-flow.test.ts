import { afterEach, describe, expect, it, vi } from 'vitest';
import * as pf from 'pocketflow';
import { BaseNode, BatchFlow, Flow, Node, ParallelBatchFlow } from '../../src/index';
import { deferred, flush, outcome, spyWarn, type Deferred } from './helpers';

afterEach(() => {
  vi.restoreAllMocks();
});

interface Shared {
  log: string[];
}

/** Logs its name and params. */
class Step extends Node<Shared> {
  constructor(readonly name: string) {
    super();
  }
  override async post(shared: Shared) {
    shared.log.push(`${this.name}${JSON.stringify(this.params)}`);
    return undefined;
  }
}

function batchOf(Base: typeof BatchFlow<Shared>, params: object[] | undefined) {
  return class extends Base {
    prepCalls = 0;
    postArgs: unknown[] = [];
    override async prep() {
      this.prepCalls++;
      return params as never;
    }
    override async post(_s: Shared, prepRes: object[]) {
      this.postArgs.push(prepRes);
      return 'batch-done';
    }
  };
}

describe.each([
  ['BatchFlow', BatchFlow],
  ['ParallelBatchFlow', ParallelBatchFlow],
] as [string, typeof BatchFlow<Shared>][])('%s', (_name, Base) => {
  it('runs the whole sub-flow once per param object, with the flow params merged in (batch values win)', async () => {
    const a = new Step('a');
    a.next(new Step('b'));
    const B = batchOf(Base, [{ id: 1 }, { id: 2, tenant: 'special' }]);
    const flow = new B(a).setParams({ tenant: 't', base: true });
    const shared: Shared = { log: [] };
    await expect(flow.run(shared)).resolves.toBe('batch-done');
    expect([...shared.log].sort()).toEqual(
      [
        'a{"tenant":"t","base":true,"id":1}',
        'b{"tenant":"t","base":true,"id":1}',
        'a{"tenant":"special","base":true,"id":2}',
        'b{"tenant":"special","base":true,"id":2}',
      ].sort(),
    );
    expect(flow.prepCalls).toBe(1);
    expect(flow.postArgs).toEqual([[{ id: 1 }, { id: 2, tenant: 'special' }]]);
    // The flow's own params are not changed by the batch objects.
    expect(flow.params).toEqual({ tenant: 't', base: true });
  });

  it('does not mutate the batch param objects', async () => {
    const batch = [{ id: 1 }];
    const B = batchOf(Base, batch);
    await new B(new Step('a')).setParams({ extra: 1 }).run({ log: [] });
    expect(batch).toEqual([{ id: 1 }]);
  });

  it('runs nothing for prep → [] (pocketflow agrees)', async () => {
    const shared: Shared = { log: [] };
    const B = batchOf(Base, []);
    const flow = new B(new Step('a'));
    await expect(flow.run(shared)).resolves.toBe('batch-done');
    expect(shared.log).toEqual([]);
    expect(flow.postArgs).toEqual([[]]);
  });

  it('runs nothing with the default prep', async () => {
    const shared: Shared = { log: [] };
    await expect(new Base(new Step('a')).run(shared)).resolves.toBeUndefined();
    expect(shared.log).toEqual([]);
  });

  it('deliberate fix 2: prep → undefined runs nothing, does not throw, and post gets [] (pocketflow throws)', async () => {
    const shared: Shared = { log: [] };
    const B = batchOf(Base, undefined);
    const flow = new B(new Step('a'));
    await expect(flow.run(shared)).resolves.toBe('batch-done');
    expect(shared.log).toEqual([]);
    expect(flow.postArgs).toEqual([[]]);

    const PfBase = _name === 'BatchFlow' ? pf.BatchFlow : pf.ParallelBatchFlow;
    class Theirs extends PfBase {
      override async prep() {
        return undefined as never;
      }
    }
    await expect(new Theirs(new pf.Node()).run({})).rejects.toThrow(TypeError);
  });

  it('rejects with the original error when a sub-flow fails', async () => {
    const original = new Error('sub-flow failed');
    class Bad extends Node<Shared> {
      override async exec(): Promise<never> {
        throw original;
      }
    }
    const B = batchOf(Base, [{ id: 1 }]);
    await expect(new B(new Bad()).run({ log: [] })).rejects.toBe(original);
  });

  it('gives every sub-flow its own node copies', async () => {
    const instances = new Set<BaseNode>();
    class Probe extends Node<Shared> {
      override async exec() {
        instances.add(this);
      }
    }
    const probe = new Probe();
    const B = batchOf(Base, [{ id: 1 }, { id: 2 }, { id: 3 }]);
    await new B(probe).run({ log: [] });
    expect(instances.size).toBe(3);
    expect(instances.has(probe)).toBe(false);
  });
});

describe('BatchFlow (sequential)', () => {
  it('finishes one sub-flow before the next starts', async () => {
    const gates: Deferred<void>[] = [deferred(), deferred()];
    const events: string[] = [];
    class Wait extends Node<Shared> {
      override async exec() {
        const id = this.params.id as number;
        events.push(`start ${id}`);
        await gates[id]!.promise;
        events.push(`end ${id}`);
      }
    }
    class B extends BatchFlow<Shared> {
      override async prep() {
        return [{ id: 0 }, { id: 1 }];
      }
    }
    const run = outcome(new B(new Wait()).run({ log: [] }));
    await flush();
    expect(events).toEqual(['start 0']);
    gates[0]!.resolve();
    await flush();
    expect(events).toEqual(['start 0', 'end 0', 'start 1']);
    gates[1]!.resolve();
    await expect(run).resolves.toMatchObject({ ok: true });
  });

  it('logs in batch order, exactly like pocketflow', async () => {
    const logs: string[][] = [];
    for (const lib of [{ Node, BatchFlow }, pf] as const) {
      const log: string[] = [];
      const NodeCls = lib.Node as typeof pf.Node;
      class Say extends NodeCls {
        override async exec() {
          log.push(JSON.stringify((this as unknown as { _params: object })._params));
        }
      }
      const BatchCls = lib.BatchFlow as typeof pf.BatchFlow;
      class B extends BatchCls {
        override async prep() {
          return [{ i: 0 }, { i: 1 }, { i: 2 }];
        }
      }
      const first = new Say();
      first.next(new Say());
      await new B(first).setParams({ p: 'x' }).run({});
      logs.push(log);
    }
    expect(logs[0]).toEqual(logs[1]);
    expect(logs[0]).toHaveLength(6);
  });
});

describe('ParallelBatchFlow', () => {
  it('starts all sub-flows at once', async () => {
    const gate = deferred();
    const started: unknown[] = [];
    class Wait extends Node<Shared> {
      override async exec() {
        started.push(this.params.id);
        await gate.promise;
      }
    }
    class PB extends ParallelBatchFlow<Shared> {
      override async prep() {
        return [{ id: 'a' }, { id: 'b' }, { id: 'c' }];
      }
    }
    const run = outcome(new PB(new Wait()).run({ log: [] }));
    await flush();
    expect(started).toEqual(['a', 'b', 'c']);
    gate.resolve();
    await expect(run).resolves.toMatchObject({ ok: true });
  });

  it('concurrent sub-flows never see each other’s params, even when interleaved across several nodes', async () => {
    const gates = new Map<string, Deferred<void>>();
    const seen: string[] = [];
    class Hop extends Node<Shared> {
      constructor(readonly hop: string) {
        super();
      }
      override async exec() {
        const id = this.params.id as string;
        const gate = deferred();
        gates.set(`${this.hop}${id}`, gate);
        await gate.promise;
        // The params must still be this sub-flow's after the others have run in between.
        seen.push(`${this.hop}${id}:${String(this.params.id)}`);
      }
    }
    const first = new Hop('x');
    first.next(new Hop('y'));
    class PB extends ParallelBatchFlow<Shared> {
      override async prep() {
        return [{ id: '1' }, { id: '2' }];
      }
    }
    const run = outcome(new PB(first).run({ log: [] }));
    await flush();
    gates.get('x2')!.resolve();
    await flush();
    gates.get('x1')!.resolve();
    await flush();
    gates.get('y2')!.resolve();
    gates.get('y1')!.resolve();
    await expect(run).resolves.toMatchObject({ ok: true });
    expect(seen).toEqual(['x2:2', 'x1:1', 'y2:2', 'y1:1']);
  });

  it('two concurrent runs of the same ParallelBatchFlow do not share params', async () => {
    const seen: string[] = [];
    class Probe extends Node<{ run: string }> {
      override async exec() {
        await new Promise((r) => setImmediate(r));
        seen.push(`${String(this.params.run)}/${String(this.params.id)}`);
      }
    }
    class PB extends ParallelBatchFlow<{ run: string }> {
      override async prep(shared: { run: string }) {
        return [
          { id: 1, run: shared.run },
          { id: 2, run: shared.run },
        ];
      }
    }
    const flow = new PB(new Probe());
    await Promise.all([flow.run({ run: 'A' }), flow.run({ run: 'B' })]);
    expect(seen.sort()).toEqual(['A/1', 'A/2', 'B/1', 'B/2']);
  });

  it('warns per sub-flow like pocketflow when a node ends on an unknown action', async () => {
    const warn = spyWarn();
    class Say extends Node<Shared> {
      override async post() {
        return 'nope';
      }
    }
    const s = new Say();
    s.on('yes', new Step('never'));
    class PB extends ParallelBatchFlow<Shared> {
      override async prep() {
        return [{}, {}];
      }
    }
    await new PB(s).run({ log: [] });
    expect(warn.messages()).toEqual([
      "Flow ends: 'nope' not found in [yes]",
      "Flow ends: 'nope' not found in [yes]",
    ]);
  });

  it('is a BatchFlow and a Flow', () => {
    const pb = new ParallelBatchFlow(new Node());
    expect(pb).toBeInstanceOf(BatchFlow);
    expect(pb).toBeInstanceOf(Flow);
  });
});
