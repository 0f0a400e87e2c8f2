import { afterEach, describe, expect, it, vi } from 'vitest';
import * as pf from 'pocketflow';
import { BaseNode, BatchFlow, Flow, Node, ParallelBatchFlow } from '../../src/index';
import { spyWarn } from './helpers';

afterEach(() => {
  vi.restoreAllMocks();
});

interface Shared {
  log: string[];
  count?: number;
}

/** Logs its name and the params it saw, returns `action` (or a computed one). */
class Step extends Node<Shared> {
  constructor(
    readonly name: string,
    readonly action?: string | ((shared: Shared) => string | undefined),
  ) {
    super();
  }
  override async post(shared: Shared) {
    const p = Object.keys(this.params).length ? JSON.stringify(this.params) : '';
    shared.log.push(this.name + p);
    return typeof this.action === 'function' ? this.action(shared) : this.action;
  }
}

describe('Flow: following successors', () => {
  it('runs a chain from start to end', async () => {
    const a = new Step('a');
    a.next(new Step('b')).next(new Step('c'));
    const shared: Shared = { log: [] };
    await new Flow(a).run(shared);
    expect(shared.log).toEqual(['a', 'b', 'c']);
  });

  it('branches on the action post returns', async () => {
    for (const [choice, expected] of [
      ['left', ['decide', 'L']],
      ['right', ['decide', 'R']],
    ] as const) {
      const decide = new Step('decide', choice);
      decide.on('left', new Step('L'));
      decide.on('right', new Step('R'));
      const shared: Shared = { log: [] };
      await new Flow(decide).run(shared);
      expect(shared.log).toEqual(expected);
    }
  });

  it('ends with the warning "Flow ends: \'x\' not found in [a,b]" on an unknown action', async () => {
    const warn = spyWarn();
    const n = new Step('n', 'x');
    n.on('a', new Step('A')).on('b', new Step('B'));
    const shared: Shared = { log: [] };
    await new Flow(n).run(shared);
    expect(shared.log).toEqual(['n']);
    expect(warn.messages()).toEqual(["Flow ends: 'x' not found in [a,b]"]);
  });

  it('ends silently at a node without successors', async () => {
    const warn = spyWarn();
    const shared: Shared = { log: [] };
    await new Flow(new Step('only', 'anything')).run(shared);
    expect(shared.log).toEqual(['only']);
    expect(warn.messages()).toEqual([]);
  });

  it('loops while a counter in shared state says so', async () => {
    const body = new Step('body', (s) => ((s.count = (s.count ?? 0) + 1) < 3 ? 'again' : 'stop'));
    body.on('again', body);
    body.on('stop', new Step('end'));
    const shared: Shared = { log: [] };
    await new Flow(body).run(shared);
    expect(shared.log).toEqual(['body', 'body', 'body', 'end']);
  });

  it('runs the flow’s own prep before and post after the graph, with prep’s result', async () => {
    const order: string[] = [];
    class F extends Flow<Shared> {
      override async prep(shared: Shared) {
        order.push(`prep:${shared.log.length}`);
        return 'prepped';
      }
      override async post(shared: Shared, prepRes: unknown) {
        order.push(`post:${shared.log.length}:${String(prepRes)}`);
        return 'flow-done';
      }
    }
    const shared: Shared = { log: [] };
    await expect(new F(new Step('a')).run(shared)).resolves.toBe('flow-done');
    expect(order).toEqual(['prep:0', 'post:1:prepped']);
  });

  it('rejects with the original error of a node and runs nothing after it', async () => {
    const original = new Error('node failed');
    class Bad extends Node<Shared> {
      override async exec(): Promise<never> {
        throw original;
      }
    }
    const a = new Step('a');
    a.next(new Bad(2)).next(new Step('after'));
    const shared: Shared = { log: [] };
    await expect(new Flow(a).run(shared)).rejects.toBe(original);
    expect(shared.log).toEqual(['a']);
  });

  it('cannot exec', async () => {
    await expect(new Flow(new Step('a')).exec(undefined)).rejects.toThrow("Flow can't exec.");
  });
});

describe('Flow: per-visit copies', () => {
  it('a node visited twice in a loop runs on a fresh copy each time, never on the original', async () => {
    const instances: BaseNode[] = [];
    class Visit extends Node<Shared> {
      scratch: string | undefined;
      override async exec() {
        instances.push(this);
        const before = this.scratch;
        this.scratch = 'dirty';
        return before;
      }
      override async post(shared: Shared, _p: unknown, before: unknown) {
        shared.log.push(String(before));
        return (shared.count = (shared.count ?? 0) + 1) < 2 ? 'again' : undefined;
      }
    }
    const v = new Visit();
    v.on('again', v);
    const shared: Shared = { log: [] };
    await new Flow(v).run(shared);
    expect(instances).toHaveLength(2);
    expect(instances[0]).not.toBe(instances[1]);
    expect(instances).not.toContain(v);
    // The second visit does not see what the first one wrote on `this`, and the original is untouched.
    expect(shared.log).toEqual(['undefined', 'undefined']);
    expect(v.scratch).toBeUndefined();
  });

  it('keeps the original node’s params and retry counter untouched', async () => {
    class Retry extends Node<Shared> {
      override async exec() {
        if (this.currentRetry === 0) throw new Error('once');
        return this.currentRetry;
      }
    }
    const r = new Retry(2).setParams({ own: 1 });
    const flow = new Flow(r).setParams({ flowParam: 'x' });
    await flow.run({ log: [] });
    expect(r.params).toEqual({ own: 1 });
    expect(r.currentRetry).toBe(0);
  });

  it('running the same flow twice starts from the same graph each time', async () => {
    const a = new Step('a');
    a.next(new Step('b'));
    const flow = new Flow(a);
    const s1: Shared = { log: [] };
    const s2: Shared = { log: [] };
    await flow.run(s1);
    await flow.run(s2);
    expect(s1.log).toEqual(['a', 'b']);
    expect(s2.log).toEqual(['a', 'b']);
  });
});

describe('Flow: params', () => {
  it('hands the flow’s params to every node', async () => {
    const a = new Step('a');
    a.next(new Step('b'));
    const shared: Shared = { log: [] };
    await new Flow(a).setParams({ user: 'u1' }).run(shared);
    expect(shared.log).toEqual(['a{"user":"u1"}', 'b{"user":"u1"}']);
  });

  it('replaces a node’s own params with the flow’s, exactly like pocketflow', async () => {
    const seen: unknown[] = [];
    for (const lib of [{ Node, Flow }, pf] as const) {
      const NodeCls = lib.Node as typeof pf.Node;
      const FlowCls = lib.Flow as typeof pf.Flow;
      class Probe extends NodeCls {
        override async exec() {
          seen.push({ ...(this as unknown as { _params: object })._params });
        }
      }
      const probe = new Probe().setParams({ own: 1, shared: 'node' });
      await new FlowCls(probe).setParams({ shared: 'flow' }).run({});
    }
    expect(seen).toEqual([{ shared: 'flow' }, { shared: 'flow' }]);
  });

  it('passes an outer flow’s params through a nested flow down to its nodes', async () => {
    const inner = new Flow(new Step('leaf'));
    const shared: Shared = { log: [] };
    await new Flow(inner).setParams({ depth: 'outer' }).run(shared);
    expect(shared.log).toEqual(['leaf{"depth":"outer"}']);
  });

  it('a nested BatchFlow merges the outer flow’s params with each batch param object', async () => {
    class Batch extends BatchFlow<Shared> {
      override async prep() {
        return [{ id: 1 }, { id: 2, tenant: 'override' }];
      }
    }
    const shared: Shared = { log: [] };
    await new Flow(new Batch(new Step('leaf'))).setParams({ tenant: 't' }).run(shared);
    expect(shared.log).toEqual(['leaf{"tenant":"t","id":1}', 'leaf{"tenant":"override","id":2}']);
  });
});

describe('Flow: bad input', () => {
  it.each([
    ['Flow', Flow],
    ['BatchFlow', BatchFlow],
    ['ParallelBatchFlow', ParallelBatchFlow],
  ] as const)('new %s() without a start node throws a clear TypeError at construction', (name, Cls) => {
    const make = Cls as unknown as new (start?: unknown) => unknown;
    expect(() => new make()).toThrow(TypeError);
    expect(() => new make()).toThrow(
      `${name}: start must be a node (an instance of BaseNode), got undefined`,
    );
    expect(() => new make({})).toThrow(`${name}: start must be a node`);
    expect(() => new make('a')).toThrow(`${name}: start must be a node`);
  });

  it('pocketflow accepts new Flow() and only fails when run (the error we move to construction)', async () => {
    const flow = new pf.Flow(undefined as never);
    await expect(flow.run({})).rejects.toThrow(TypeError);
  });
});

describe('Flow: deliberate fix 1 — run resolves to the last action of the inner run', () => {
  function graph<L extends { Node: typeof pf.Node }>(lib: L, log: string[]) {
    class Say extends lib.Node {
      constructor(
        readonly name: string,
        readonly action: string | undefined,
      ) {
        super();
      }
      override async post() {
        log.push(this.name);
        return this.action;
      }
    }
    return Say;
  }

  it('Flow.run resolves to the action of the last node (pocketflow resolves to undefined)', async () => {
    const log: string[] = [];
    const Ours = graph({ Node: Node as unknown as typeof pf.Node }, log);
    const Theirs = graph(pf, log);
    const ours = new Flow(new Ours('a', 'finished') as never);
    const theirs = new pf.Flow(new Theirs('a', 'finished'));
    await expect(ours.run({})).resolves.toBe('finished');
    await expect(theirs.run({})).resolves.toBeUndefined();
  });

  it('resolves to the action that ended the flow even when no successor matched it', async () => {
    const warn = spyWarn();
    const a = new Step('a', 'missing');
    a.on('other', new Step('b'));
    await expect(new Flow(a).run({ log: [] })).resolves.toBe('missing');
    expect(warn.messages()).toEqual(["Flow ends: 'missing' not found in [other]"]);
  });

  it('a nested flow in a flow branches on its inner last action (pocketflow cannot)', async () => {
    const warn = spyWarn();
    // Ours: the inner flow ends on 'approved', the outer flow follows that edge.
    const oursLog: string[] = [];
    const innerOurs = new Flow(new Step('review', 'approved'));
    innerOurs.on('approved', new Step('publish'));
    innerOurs.on('rejected', new Step('discard'));
    const sharedOurs: Shared = { log: oursLog };
    await new Flow(innerOurs).run(sharedOurs);
    expect(oursLog).toEqual(['review', 'publish']);
    expect(warn.messages()).toEqual([]);

    // pocketflow: the inner flow's run yields undefined, so the outer flow looks up 'default'.
    const theirsLog: string[] = [];
    class Say extends pf.Node {
      constructor(
        readonly name: string,
        readonly action?: string,
      ) {
        super();
      }
      override async post() {
        theirsLog.push(this.name);
        return this.action;
      }
    }
    const innerTheirs = new pf.Flow(new Say('review', 'approved'));
    innerTheirs.on('approved', new Say('publish'));
    innerTheirs.on('rejected', new Say('discard'));
    await new pf.Flow(innerTheirs).run({});
    expect(theirsLog).toEqual(['review']);
    expect(warn.messages()).toEqual(["Flow ends: 'default' not found in [approved,rejected]"]);
  });

  it('a Flow subclass that overrides post still decides the action itself, and its post sees the last action', async () => {
    const seen: unknown[] = [];
    class F extends Flow<Shared> {
      override async post(_shared: Shared, _prepRes: unknown, execRes: unknown) {
        seen.push(execRes);
        return 'mine';
      }
    }
    await expect(new F(new Step('a', 'inner')).run({ log: [] })).resolves.toBe('mine');
    expect(seen).toEqual(['inner']);
  });

  it('BatchFlow and ParallelBatchFlow still resolve to undefined by default, as in pocketflow', async () => {
    class B extends BatchFlow<Shared> {
      override async prep() {
        return [{}];
      }
    }
    class PB extends ParallelBatchFlow<Shared> {
      override async prep() {
        return [{}];
      }
    }
    await expect(new B(new Step('a', 'x')).run({ log: [] })).resolves.toBeUndefined();
    await expect(new PB(new Step('a', 'x')).run({ log: [] })).resolves.toBeUndefined();
  });
});
