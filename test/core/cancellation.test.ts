import { afterEach, describe, expect, it, vi } from 'vitest';
import { BatchFlow, Flow, Node, ParallelBatchFlow } from '../../src/index';
import { deferred, flush, outcome } from './helpers';

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

interface Shared {
  log: string[];
}

/** Logs its name; `onExec` runs inside exec (e.g. to abort the run mid-node). */
class Step extends Node<Shared> {
  constructor(
    readonly name: string,
    readonly onExec?: (node: Step) => void | Promise<void>,
  ) {
    super();
  }
  override async exec() {
    await this.onExec?.(this);
  }
  override async post(shared: Shared) {
    shared.log.push(this.name);
    return undefined;
  }
}

function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

describe('run(shared, { signal })', () => {
  it('rejects with an AbortError and runs no node when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const shared: Shared = { log: [] };
    const result = await outcome(new Flow(new Step('a')).run(shared, { signal: controller.signal }));
    expect(result.ok).toBe(false);
    expect(!result.ok && isAbortError(result.error)).toBe(true);
    expect(shared.log).toEqual([]);
  });

  it('a lone node with an already-aborted signal rejects without running exec', async () => {
    const controller = new AbortController();
    controller.abort();
    const exec = vi.fn();
    const shared: Shared = { log: [] };
    const result = await outcome(new Step('a', exec).run(shared, { signal: controller.signal }));
    expect(!result.ok && isAbortError(result.error)).toBe(true);
    expect(exec).not.toHaveBeenCalled();
    expect(shared.log).toEqual([]);
  });

  it('stops before the next node when aborted during a node (the running node finishes)', async () => {
    const controller = new AbortController();
    const a = new Step('a', () => controller.abort());
    a.next(new Step('b')).next(new Step('c'));
    const shared: Shared = { log: [] };
    const result = await outcome(new Flow(a).run(shared, { signal: controller.signal }));
    expect(!result.ok && isAbortError(result.error)).toBe(true);
    expect(!result.ok && result.error).toBeInstanceOf(DOMException);
    expect(shared.log).toEqual(['a']);
  });

  it('rejects with the signal’s own reason when abort() was given one', async () => {
    const controller = new AbortController();
    const reason = new Error('user pressed stop');
    const a = new Step('a', () => controller.abort(reason));
    a.next(new Step('b'));
    await expect(new Flow(a).run({ log: [] }, { signal: controller.signal })).rejects.toBe(reason);
  });

  it('resolves normally when the abort comes after the last node', async () => {
    const controller = new AbortController();
    const shared: Shared = { log: [] };
    await expect(
      new Flow(new Step('a', () => controller.abort())).run(shared, { signal: controller.signal }),
    ).resolves.toBeUndefined();
    expect(shared.log).toEqual(['a']);
  });

  it('without a signal nothing changes: this.signal is undefined and the flow runs to the end', async () => {
    const seen: unknown[] = [];
    const a = new Step('a', (n) => void seen.push(n.signal));
    a.next(new Step('b'));
    const shared: Shared = { log: [] };
    await new Flow(a).run(shared);
    expect(seen).toEqual([undefined]);
    expect(shared.log).toEqual(['a', 'b']);
  });
});

describe('this.signal inside exec', () => {
  it('is the run’s signal for a lone node and for every node of flows, nested flows and batch flows', async () => {
    const controller = new AbortController();
    const seen: [string, AbortSignal | undefined][] = [];
    const probe = (name: string) => new Step(name, (n) => void seen.push([name, n.signal]));

    await probe('lone').run({ log: [] }, { signal: controller.signal });

    const inner = new Flow(probe('nested'));
    const first = probe('first');
    first.next(inner).next(probe('after-nested'));
    class B extends BatchFlow<Shared> {
      override async prep() {
        return [{}, {}];
      }
    }
    class PB extends ParallelBatchFlow<Shared> {
      override async prep() {
        return [{}, {}];
      }
    }
    first.on('unused', probe('never'));
    inner.on('unused', probe('never'));
    const batches = new B(probe('batch'));
    const parallel = new PB(probe('parallel'));
    // Chain the batch flows after the nested flow's successor.
    const afterNested = inner.getNextNode('default')!;
    afterNested.next(batches).next(parallel);

    await new Flow(first).run({ log: [] }, { signal: controller.signal });
    expect(seen.map(([name]) => name)).toEqual([
      'lone',
      'first',
      'nested',
      'after-nested',
      'batch',
      'batch',
      'parallel',
      'parallel',
    ]);
    for (const [name, signal] of seen)
      expect({ name, same: signal === controller.signal }).toEqual({ name, same: true });
  });

  it('lets exec hand the signal to its own calls so they are cancelled too', async () => {
    const controller = new AbortController();
    const started = deferred();
    class Fetchy extends Node {
      override async exec() {
        started.resolve();
        // Stands in for fetch(url, { signal: this.signal }).
        await new Promise((_, reject) => {
          this.signal?.addEventListener('abort', () => reject(this.signal!.reason), { once: true });
        });
      }
    }
    const run = outcome(new Flow(new Fetchy()).run({}, { signal: controller.signal }));
    await started.promise;
    controller.abort();
    const result = await run;
    expect(!result.ok && isAbortError(result.error)).toBe(true);
  });
});

describe('cancellation and retries', () => {
  it('an abort during the wait between tries stops waiting at once (fake timers)', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    let tries = 0;
    class Failing extends Node {
      override async exec(): Promise<never> {
        tries++;
        throw new Error('transient');
      }
    }
    const fallback = vi.fn();
    Failing.prototype.execFallback = fallback;
    const run = outcome(new Flow(new Failing(5, 60)).run({}, { signal: controller.signal }));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(tries).toBe(1);
    controller.abort();
    await vi.advanceTimersByTimeAsync(0);
    const result = await run;
    expect(!result.ok && isAbortError(result.error)).toBe(true);
    expect(tries).toBe(1);
    expect(fallback).not.toHaveBeenCalled();
    // The wait's timer is gone: nothing keeps the process alive.
    expect(vi.getTimerCount()).toBe(0);
  });

  it('does not retry an exec that failed because the run was aborted', async () => {
    const controller = new AbortController();
    let tries = 0;
    class Cancelled extends Node {
      override async exec(): Promise<never> {
        tries++;
        controller.abort();
        throw new DOMException('This operation was aborted', 'AbortError');
      }
    }
    const result = await outcome(new Flow(new Cancelled(3)).run({}, { signal: controller.signal }));
    expect(!result.ok && isAbortError(result.error)).toBe(true);
    expect(tries).toBe(1);
  });

  it('retries as usual when the signal is not aborted', async () => {
    const controller = new AbortController();
    let tries = 0;
    class Flaky extends Node {
      override async exec() {
        if (++tries < 3) throw new Error('again');
        return 'ok';
      }
    }
    await new Flow(new Flaky(3)).run({}, { signal: controller.signal });
    expect(tries).toBe(3);
  });
});

describe('cancellation in batch flows', () => {
  it('BatchFlow stops before the next sub-flow', async () => {
    const controller = new AbortController();
    const shared: Shared = { log: [] };
    class B extends BatchFlow<Shared> {
      override async prep() {
        return [{ i: 0 }, { i: 1 }, { i: 2 }];
      }
    }
    const step = new Step('s', (n) => {
      if (n.params.i === 0) controller.abort();
    });
    const result = await outcome(new B(step).run(shared, { signal: controller.signal }));
    expect(!result.ok && isAbortError(result.error)).toBe(true);
    expect(shared.log).toEqual(['s']);
  });

  it('ParallelBatchFlow stops every sub-flow before its next node', async () => {
    const controller = new AbortController();
    const gate = deferred();
    const shared: Shared = { log: [] };
    const first = new Step('first', () => gate.promise);
    first.next(new Step('second'));
    class PB extends ParallelBatchFlow<Shared> {
      override async prep() {
        return [{}, {}, {}];
      }
    }
    const run = outcome(new PB(first).run(shared, { signal: controller.signal }));
    await flush();
    controller.abort();
    gate.resolve();
    const result = await run;
    expect(!result.ok && isAbortError(result.error)).toBe(true);
    expect(shared.log).toEqual(['first', 'first', 'first']);
  });

  it('an abort inside a nested flow also stops the outer flow', async () => {
    const controller = new AbortController();
    const inner = new Flow(new Step('inner', () => controller.abort()));
    const outerStart = new Step('outer-start');
    outerStart.next(inner).next(new Step('outer-end'));
    const shared: Shared = { log: [] };
    const result = await outcome(new Flow(outerStart).run(shared, { signal: controller.signal }));
    expect(!result.ok && isAbortError(result.error)).toBe(true);
    expect(shared.log).toEqual(['outer-start', 'inner']);
  });
});

describe('concurrent runs of one flow instance', () => {
  it('each run is cancelled by its own signal only', async () => {
    const gate = deferred();
    const a = new Step('a', () => gate.promise);
    a.next(new Step('b'));
    const flow = new Flow(a);
    const first = new AbortController();
    const second = new AbortController();
    const s1: Shared = { log: [] };
    const s2: Shared = { log: [] };
    const s3: Shared = { log: [] };
    const run1 = outcome(flow.run(s1, { signal: first.signal }));
    const run2 = outcome(flow.run(s2, { signal: second.signal }));
    const run3 = outcome(flow.run(s3));
    await flush();
    first.abort();
    gate.resolve();
    const [r1, r2, r3] = await Promise.all([run1, run2, run3]);
    expect(!r1.ok && isAbortError(r1.error)).toBe(true);
    expect(s1.log).toEqual(['a']);
    expect(r2.ok).toBe(true);
    expect(s2.log).toEqual(['a', 'b']);
    expect(r3.ok).toBe(true);
    expect(s3.log).toEqual(['a', 'b']);
  });

  it('a lone node run concurrently sees its own run’s signal in exec', async () => {
    const gate = deferred();
    const seen: (AbortSignal | undefined)[] = [];
    class Probe extends Node {
      override async exec() {
        await gate.promise;
        seen.push(this.signal);
      }
    }
    const node = new Probe();
    const one = new AbortController();
    const two = new AbortController();
    const runs = Promise.all([
      node.run({}, { signal: one.signal }),
      node.run({}, { signal: two.signal }),
      node.run({}),
    ]);
    gate.resolve();
    await runs;
    expect(seen).toEqual([one.signal, two.signal, undefined]);
  });
});
