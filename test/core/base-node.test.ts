import { afterEach, describe, expect, it, vi } from 'vitest';
import * as pf from 'pocketflow';
import { BaseNode, Flow, Node } from '../../src/index';
import { spyWarn } from './helpers';

afterEach(() => {
  vi.restoreAllMocks();
});

/** A node that appends its name to `shared.log` and returns a fixed action. */
class Step extends BaseNode<{ log: string[] }> {
  constructor(
    readonly name: string,
    readonly action?: string,
  ) {
    super();
  }
  override async post(shared: { log: string[] }): Promise<string | undefined> {
    shared.log.push(this.name);
    return this.action;
  }
}

describe('BaseNode: prep → exec → post', () => {
  it('passes prep result to exec and both to post, and run resolves to post’s action', async () => {
    const seen: unknown[] = [];
    class N extends BaseNode<{ x: number }> {
      override async prep(shared: { x: number }) {
        return shared.x + 1;
      }
      override async exec(prepRes: unknown) {
        return (prepRes as number) * 10;
      }
      override async post(shared: { x: number }, prepRes: unknown, execRes: unknown) {
        seen.push(shared.x, prepRes, execRes);
        return 'done';
      }
    }
    await expect(new N().run({ x: 1 })).resolves.toBe('done');
    expect(seen).toEqual([1, 2, 20]);
  });

  it('does nothing and resolves to undefined with the default prep/exec/post', async () => {
    await expect(new BaseNode().run({})).resolves.toBeUndefined();
  });
});

describe('BaseNode: successors', () => {
  it('next() connects the default action and returns its argument (the same object)', () => {
    const a = new BaseNode();
    const b = new BaseNode();
    const c = new BaseNode();
    const warn = spyWarn();
    expect(a.next(b)).toBe(b);
    expect(warn.messages()).toEqual([]);
    b.next(c);
    expect(a.getNextNode('default')).toBe(b);
    expect(b.getNextNode()).toBe(c);
  });

  it('supports chaining a.next(b).next(c) like pocketflow', () => {
    const warn = spyWarn();
    const [a, b, c] = [new BaseNode(), new BaseNode(), new BaseNode()];
    const last = a.next(b).next(c);
    expect(last).toBe(c);
    expect(a.successors.get('default')).toBe(b);
    expect(b.successors.get('default')).toBe(c);
    expect(warn.messages()).toEqual([]);
  });

  it('on(action, node) returns the node it was called on and picks successors by action', () => {
    const a = new BaseNode();
    const yes = new BaseNode();
    const no = new BaseNode();
    expect(a.on('yes', yes)).toBe(a);
    a.on('no', no);
    expect(a.getNextNode('yes')).toBe(yes);
    expect(a.getNextNode('no')).toBe(no);
    expect([...a.successors.keys()]).toEqual(['yes', 'no']);
  });

  it('treats an empty or missing action as "default"', () => {
    const a = new BaseNode();
    const b = new BaseNode();
    a.next(b);
    expect(a.getNextNode('')).toBe(b);
    expect(a.getNextNode(undefined)).toBe(b);
  });

  it('successors is a copy: changing it does not rewire the node', () => {
    const a = new BaseNode();
    const b = new BaseNode();
    a.next(b);
    (a.successors as Map<string, BaseNode>).delete('default');
    expect(a.getNextNode()).toBe(b);
  });
});

describe('BaseNode: warnings (exact pocketflow texts)', () => {
  it('on() warns "Overwriting successor for action \'x\'" and keeps the new successor', () => {
    const warn = spyWarn();
    const a = new BaseNode();
    const first = new BaseNode();
    const second = new BaseNode();
    a.on('x', first);
    expect(warn.messages()).toEqual([]);
    a.on('x', second);
    expect(warn.messages()).toEqual(["Overwriting successor for action 'x'"]);
    expect(a.getNextNode('x')).toBe(second);
  });

  it('next() twice warns about the default action', () => {
    const warn = spyWarn();
    const a = new BaseNode();
    a.next(new BaseNode());
    a.next(new BaseNode());
    expect(warn.messages()).toEqual(["Overwriting successor for action 'default'"]);
  });

  it('getNextNode warns "Flow ends: \'x\' not found in [a,b]" when successors exist but not for x', () => {
    const warn = spyWarn();
    const n = new BaseNode();
    n.on('a', new BaseNode()).on('b', new BaseNode());
    expect(n.getNextNode('x')).toBeUndefined();
    expect(warn.messages()).toEqual(["Flow ends: 'x' not found in [a,b]"]);
  });

  it('getNextNode of a node without successors returns undefined silently', () => {
    const warn = spyWarn();
    expect(new BaseNode().getNextNode('x')).toBeUndefined();
    expect(warn.messages()).toEqual([]);
  });

  it('the warning texts are character for character those of pocketflow', () => {
    const warn = spyWarn();
    const ours = new BaseNode();
    ours.on('a', new BaseNode()).on('b', new BaseNode()).on('a', new BaseNode());
    ours.getNextNode('zz');
    const oursMessages = warn.messages();
    warn.spy.mockClear();
    const theirs = new pf.BaseNode();
    theirs.on('a', new pf.BaseNode()).on('b', new pf.BaseNode()).on('a', new pf.BaseNode());
    theirs.getNextNode('zz');
    expect(oursMessages).toEqual(warn.messages());
    expect(oursMessages).toEqual([
      "Overwriting successor for action 'a'",
      "Flow ends: 'zz' not found in [a,b]",
    ]);
  });

  it('run() on a node with successors warns "Node won\'t run successors. Use Flow." and runs only itself', async () => {
    const warn = spyWarn();
    const shared = { log: [] as string[] };
    const a = new Step('a');
    a.next(new Step('b'));
    await expect(a.run(shared)).resolves.toBeUndefined();
    expect(shared.log).toEqual(['a']);
    expect(warn.messages()).toEqual(["Node won't run successors. Use Flow."]);
  });

  it('run() on a node without successors does not warn', async () => {
    const warn = spyWarn();
    await new Step('a').run({ log: [] });
    expect(warn.messages()).toEqual([]);
  });

  it('a Flow that has successors warns the same when run directly', async () => {
    const warn = spyWarn();
    const flow = new Flow(new Step('inner'));
    flow.next(new Step('after'));
    const shared = { log: [] as string[] };
    await flow.run(shared);
    expect(shared.log).toEqual(['inner']);
    expect(warn.messages()).toEqual(["Node won't run successors. Use Flow."]);
  });
});

describe('BaseNode: params', () => {
  it('setParams replaces the params and returns the node', () => {
    const n = new BaseNode();
    expect(n.setParams({ a: 1 })).toBe(n);
    expect(n.params).toEqual({ a: 1 });
    n.setParams({ b: 2 });
    expect(n.params).toEqual({ b: 2 });
  });

  it('starts with empty params', () => {
    expect(new Node().params).toEqual({});
  });
});

describe('BaseNode: clone', () => {
  it('gives a copy of the same class with its own params and successors', () => {
    const a = new Step('a', 'go');
    const b = new Step('b');
    a.setParams({ k: 1 }).on('go', b);
    const copy = a.clone();
    expect(copy).not.toBe(a);
    expect(copy).toBeInstanceOf(Step);
    expect(copy.name).toBe('a');
    expect(copy.params).toEqual({ k: 1 });
    expect(copy.getNextNode('go')).toBe(b);
    copy.setParams({ k: 2 });
    copy.on('other', new Step('c'));
    expect(a.params).toEqual({ k: 1 });
    expect([...a.successors.keys()]).toEqual(['go']);
  });

  it('copies the params object, so mutating the copy’s params leaves the original alone', () => {
    const a = new BaseNode<unknown, { k: number }>().setParams({ k: 1 });
    const copy = a.clone();
    copy.params.k = 99;
    expect(a.params.k).toBe(1);
  });
});

describe('BaseNode: bad input', () => {
  it('next() with something that is not a node throws a TypeError naming the argument', () => {
    const a = new BaseNode();
    expect(() => a.next('x' as never)).toThrow(TypeError);
    expect(() => a.next('x' as never)).toThrow("node must be a node (an instance of BaseNode), got 'x'");
    expect(() => a.next(undefined as never)).toThrow(
      'node must be a node (an instance of BaseNode), got undefined',
    );
    expect(() => a.next(null as never)).toThrow('got null');
    expect(a.successors.size).toBe(0);
  });

  it('on() with a plain object throws a TypeError naming the node argument and registers nothing', () => {
    const a = new BaseNode();
    expect(() => a.on('a', {} as never)).toThrow(TypeError);
    expect(() => a.on('a', {} as never)).toThrow('node must be a node (an instance of BaseNode), got Object');
    expect(a.successors.size).toBe(0);
  });

  it('on() with a non-string action throws a TypeError naming the action argument', () => {
    const a = new BaseNode();
    expect(() => a.on(42 as never, new BaseNode())).toThrow(TypeError);
    expect(() => a.on(42 as never, new BaseNode())).toThrow('action must be a string, got 42');
  });

  it('passing a node class instead of an instance names the class, not its source code', () => {
    class Summarise extends Node {
      override async exec() {
        return 'a long body that should not end up in the error message';
      }
    }
    const a = new BaseNode();
    let message = '';
    try {
      a.next(Summarise as never);
    } catch (error) {
      expect(error).toBeInstanceOf(TypeError);
      message = (error as Error).message;
    }
    expect(message).toContain('Summarise');
    expect(message).not.toContain('long body');
  });
});
