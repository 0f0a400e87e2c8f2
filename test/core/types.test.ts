/**
 * Typed usage: these assertions are checked by `tsc --noEmit` (and `expectTypeOf` is a no-op at
 * run time), so a typing regression fails the typecheck step of `npm test`. The runtime
 * assertions at the end make sure the typed classes also behave.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  BaseNode,
  BatchFlow,
  BatchNode,
  Flow,
  Node,
  ParallelBatchFlow,
  ParallelBatchNode,
  type Action,
  type NodeOptions,
  type RunOptions,
} from '../../src/index';

interface Shared {
  texts: string[];
  lengths?: number[];
  summary?: string;
  users?: string[];
}
interface P {
  userId: string;
}

class Summarise extends Node<Shared, P, string, number> {
  override async prep(shared: Shared) {
    return shared.texts.join(' ');
  }
  override async exec(text: string) {
    return text.length;
  }
  override async execFallback(_text: string, _error: Error) {
    return -1;
  }
  override async post(shared: Shared, text: string, length: number) {
    shared.summary = `${text.slice(0, 3)}:${length}:${this.params.userId}`;
    return 'done';
  }
}

class Lengths extends BatchNode<Shared, P, string, number> {
  override async prep(shared: Shared) {
    return shared.texts;
  }
  override async exec(text: string) {
    return text.length;
  }
  override async post(shared: Shared, _texts: string[], lengths: number[]) {
    shared.lengths = lengths;
    return undefined;
  }
}

class ParallelLengths extends ParallelBatchNode<Shared, P, string, number> {
  override async prep(shared: Shared) {
    return shared.texts;
  }
  override async exec(text: string) {
    return text.length;
  }
}

class PerUser extends BatchFlow<Shared, Record<string, never>, P> {
  override async prep(shared: Shared) {
    return (shared.users ?? []).map((userId) => ({ userId }));
  }
}

describe('typed usage', () => {
  it('Node<S, P, PrepRes, ExecRes> types prep, exec, execFallback, post, params and run', () => {
    const n = new Summarise();
    expectTypeOf(n.prep).parameters.toEqualTypeOf<[Shared]>();
    expectTypeOf(n.prep).returns.resolves.toEqualTypeOf<string>();
    expectTypeOf(n.exec).parameters.toEqualTypeOf<[string]>();
    expectTypeOf(n.exec).returns.resolves.toEqualTypeOf<number>();
    expectTypeOf(n.execFallback).returns.resolves.toEqualTypeOf<number>();
    expectTypeOf(n.post).parameters.toEqualTypeOf<[Shared, string, number]>();
    expectTypeOf(n.params).toEqualTypeOf<P>();
    expectTypeOf(n.run).parameters.toEqualTypeOf<[Shared, RunOptions?]>();
    expectTypeOf(n.run).returns.resolves.toEqualTypeOf<Action | undefined>();
    expectTypeOf(n.currentRetry).toBeNumber();
    expectTypeOf(n.signal).toEqualTypeOf<AbortSignal | undefined>();
  });

  it('the base Node class types exec and execFallback from its generics', () => {
    const n = new Node<Shared, P, string, number>();
    expectTypeOf(n.exec).toEqualTypeOf<(prepRes: string) => Promise<number>>();
    expectTypeOf(n.execFallback).toEqualTypeOf<(prepRes: string, error: Error) => Promise<number>>();
    expectTypeOf(n.post).returns.resolves.toEqualTypeOf<string | undefined>();
  });

  it('BatchNode<S, P, Item, Result> types items and results', () => {
    const n = new Lengths();
    expectTypeOf(n.prep).returns.resolves.toEqualTypeOf<string[]>();
    expectTypeOf(n.exec).parameters.toEqualTypeOf<[string]>();
    expectTypeOf(n.exec).returns.resolves.toEqualTypeOf<number>();
    expectTypeOf(n.post).parameters.toEqualTypeOf<[Shared, string[], number[]]>();
    const base = new BatchNode<Shared, P, string, number>();
    expectTypeOf(base.prep).returns.resolves.toEqualTypeOf<string[] | undefined>();
    expectTypeOf(base.execFallback).toEqualTypeOf<(item: string, error: Error) => Promise<number>>();
    const parallel = new ParallelLengths();
    expectTypeOf(parallel).toMatchTypeOf<BatchNode<Shared, P, string, number>>();
  });

  it('BatchFlow<S, P, BatchParams> types the param objects prep returns', () => {
    const f = new PerUser(new Summarise());
    expectTypeOf(f.prep).returns.resolves.toEqualTypeOf<P[]>();
    const base = new BatchFlow<Shared, P, { page: number }>(new Node());
    expectTypeOf(base.prep).returns.resolves.toEqualTypeOf<{ page: number }[] | undefined>();
    expectTypeOf(
      new ParallelBatchFlow<Shared, P, { page: number }>(new Node()).prep,
    ).returns.resolves.toEqualTypeOf<{ page: number }[] | undefined>();
  });

  it('next() returns exactly the type of its argument, so chains keep subclass types', () => {
    const a = new Summarise();
    const b = new Lengths();
    expectTypeOf(a.next(b)).toEqualTypeOf<Lengths>();
    expectTypeOf(a.on('x', b)).toEqualTypeOf<Summarise>();
    expectTypeOf(new Flow<Shared>(a).start).toMatchTypeOf<BaseNode<never, object>>();
  });

  it('nodes with different shared/params types can still be wired together', () => {
    const typed = new Summarise();
    const untyped = new Node();
    typed.next(untyped).next(new BaseNode<{ other: true }>());
    expectTypeOf(new Flow(typed).run).parameters.toEqualTypeOf<[unknown, RunOptions?]>();
    expectTypeOf(new Flow<Shared>(typed).run).parameters.toEqualTypeOf<[Shared, RunOptions?]>();
  });

  it('rejects wrong inputs at compile time', () => {
    const n = new Summarise();
    // @ts-expect-error -- next() takes a node
    expect(() => n.next('x')).toThrow(TypeError);
    // @ts-expect-error -- on() takes a node
    expect(() => n.on('a', {})).toThrow(TypeError);
    // @ts-expect-error -- params must match P
    n.setParams({ wrong: 1 });
    // @ts-expect-error -- run needs the shared-state type
    void n.run({ nope: true }).catch(() => {});
    expect(() => {
      // @ts-expect-error -- maxRetries is a number
      new Node({ maxRetries: '3' });
    }).toThrow();
    expect(() => {
      // @ts-expect-error -- unknown option key
      new Node({ retries: 3 });
    }).toThrow();
    expectTypeOf<NodeOptions>().toEqualTypeOf<{ maxRetries?: number; waitMs?: number }>();
  });

  it('pocketflow-style code (generics only for shared state, untyped results) compiles unchanged', async () => {
    class Old extends Node<Shared> {
      override async prep(shared: Shared): Promise<string[]> {
        return shared.texts;
      }
      override async exec(texts: string[]): Promise<number> {
        return texts.length;
      }
      override async post(shared: Shared, _prepRes: unknown, execRes: unknown): Promise<string | undefined> {
        shared.summary = String(execRes);
        return undefined;
      }
    }
    class OldBatch extends BatchNode<Shared> {
      override async prep(shared: Shared): Promise<string[]> {
        return shared.texts;
      }
      override async exec(item: unknown): Promise<unknown> {
        return String(item).toUpperCase();
      }
    }
    class OldBatchFlow extends BatchFlow<Shared> {
      override async prep(): Promise<Record<string, unknown>[]> {
        return [{ a: 1 }];
      }
    }
    const shared: Shared = { texts: ['x', 'y'] };
    const old = new Old(2, 0);
    old.next(new OldBatch());
    await new OldBatchFlow(new Flow(old)).run(shared);
    expect(shared.summary).toBe('2');
  });

  it('the typed classes run as typed', async () => {
    const shared: Shared = { texts: ['hello', 'hi'], users: ['u1', 'u2'] };
    const summarise = new Summarise();
    summarise.on('done', new Lengths());
    await new PerUser(summarise).run(shared);
    expect(shared.summary).toBe('hel:8:u2');
    expect(shared.lengths).toEqual([5, 2]);
  });
});
