import { afterEach, describe, expect, it, vi } from 'vitest';
import * as pf from 'pocketflow';
import { BaseNode, InvalidOptionError, Node } from '../../src/index';
import { outcome } from './helpers';

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** A node whose exec fails on the tries listed in `failOn` (zero-based) and records every try. */
class Flaky extends Node<{ log: string[] }, Record<string, unknown>, string, string> {
  tries: number[] = [];
  constructor(
    private readonly failOn: number[],
    maxRetries?: number,
    wait?: number,
  ) {
    super(maxRetries, wait);
  }
  override async prep() {
    return 'input';
  }
  override async exec(prepRes: string) {
    this.tries.push(this.currentRetry);
    if (this.failOn.includes(this.currentRetry)) throw new Error(`fail ${this.currentRetry}`);
    return `${prepRes}@${this.currentRetry}`;
  }
  override async post(shared: { log: string[] }, _prepRes: string, execRes: string) {
    shared.log.push(execRes);
    return 'done';
  }
}

describe('Node: construction', () => {
  it('defaults to one try and no wait, like pocketflow', () => {
    const n = new Node();
    expect(n.maxRetries).toBe(1);
    expect(n.wait).toBe(0);
    expect(n.currentRetry).toBe(0);
    const p = new pf.Node();
    expect([n.maxRetries, n.wait]).toEqual([p.maxRetries, p.wait]);
  });

  it('takes the positional form (maxRetries, wait in seconds)', () => {
    const n = new Node(3, 1.5);
    expect(n.maxRetries).toBe(3);
    expect(n.wait).toBe(1.5);
  });

  it('takes the options form { maxRetries, waitMs } and stores wait in seconds', () => {
    const n = new Node({ maxRetries: 3, waitMs: 500 });
    expect(n.maxRetries).toBe(3);
    expect(n.wait).toBe(0.5);
    expect(new Node({}).maxRetries).toBe(1);
    expect(new Node({ waitMs: 20 }).maxRetries).toBe(1);
    expect(new Node({ maxRetries: 2 }).wait).toBe(0);
  });

  it('is a BaseNode', () => {
    expect(new Node()).toBeInstanceOf(BaseNode);
  });
});

describe('Node: retries', () => {
  it('retries a failing exec up to maxRetries times and succeeds on the last try', async () => {
    const n = new Flaky([0, 1], 3);
    const shared = { log: [] as string[] };
    await expect(n.run(shared)).resolves.toBe('done');
    expect(n.tries).toEqual([0, 1, 2]);
    expect(shared.log).toEqual(['input@2']);
  });

  it('stops retrying after the first success', async () => {
    const n = new Flaky([0], 5);
    await n.run({ log: [] });
    expect(n.tries).toEqual([0, 1]);
  });

  it('makes currentRetry readable from exec (zero-based try number)', async () => {
    const seen: number[] = [];
    class N extends Node {
      override async exec() {
        seen.push(this.currentRetry);
        if (this.currentRetry < 2) throw new Error('again');
        return 'ok';
      }
    }
    await new N(4).run({});
    expect(seen).toEqual([0, 1, 2]);
  });

  it('starts counting again from 0 on each run', async () => {
    const n = new Flaky([0], 2);
    await n.run({ log: [] });
    await n.run({ log: [] });
    expect(n.tries).toEqual([0, 1, 0, 1]);
  });

  it('waits `wait` seconds between tries (fake timers)', async () => {
    vi.useFakeTimers();
    const n = new Flaky([0, 1], 3, 2);
    const done = outcome(n.run({ log: [] }));
    await vi.advanceTimersByTimeAsync(0);
    expect(n.tries).toEqual([0]);
    await vi.advanceTimersByTimeAsync(1999);
    expect(n.tries).toEqual([0]);
    await vi.advanceTimersByTimeAsync(1);
    expect(n.tries).toEqual([0, 1]);
    await vi.advanceTimersByTimeAsync(1999);
    expect(n.tries).toEqual([0, 1]);
    await vi.advanceTimersByTimeAsync(1);
    expect(n.tries).toEqual([0, 1, 2]);
    await expect(done).resolves.toEqual({ ok: true, value: 'done' });
  });

  it('waits waitMs milliseconds with the options form (fake timers)', async () => {
    vi.useFakeTimers();
    let tries = 0;
    class N extends Node {
      override async exec() {
        tries++;
        if (tries === 1) throw new Error('first');
        return tries;
      }
    }
    const done = outcome(new N({ maxRetries: 2, waitMs: 500 }).run({}));
    await vi.advanceTimersByTimeAsync(499);
    expect(tries).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(tries).toBe(2);
    await expect(done).resolves.toMatchObject({ ok: true });
  });

  it('does not wait after the last try, nor with wait 0', async () => {
    vi.useFakeTimers();
    const fallback = vi.fn(async () => 'fb');
    class N extends Node {
      override async exec(): Promise<never> {
        throw new Error('x');
      }
      override execFallback = fallback;
    }
    // wait 0: all tries happen without any timer.
    const noWait = outcome(new N(3, 0).run({}));
    await vi.advanceTimersByTimeAsync(0);
    expect(fallback).toHaveBeenCalledTimes(1);
    await expect(noWait).resolves.toMatchObject({ ok: true });
    // wait 5 s: two waits between three tries, none after the third.
    const waited = outcome(new N(3, 5).run({}));
    await vi.advanceTimersByTimeAsync(9_999);
    expect(fallback).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(fallback).toHaveBeenCalledTimes(2);
    expect(vi.getTimerCount()).toBe(0);
    await waited;
  });
});

describe('Node: execFallback and errors', () => {
  it('calls execFallback once, after the last try, with the prep result and the last error', async () => {
    const calls: unknown[][] = [];
    class N extends Flaky {
      override async execFallback(prepRes: string, error: Error) {
        calls.push([prepRes, error.message, [...this.tries]]);
        return 'fallback';
      }
    }
    const n = new N([0, 1, 2], 3);
    const shared = { log: [] as string[] };
    await expect(n.run(shared)).resolves.toBe('done');
    expect(calls).toEqual([['input', 'fail 2', [0, 1, 2]]]);
    expect(shared.log).toEqual(['fallback']);
  });

  it('does not call execFallback when a retry succeeds', async () => {
    const fallback = vi.fn();
    class N extends Flaky {
      override execFallback = fallback;
    }
    await new N([0], 2).run({ log: [] });
    expect(fallback).not.toHaveBeenCalled();
  });

  it('rejects run with the ORIGINAL error object when retries are exhausted and there is no fallback', async () => {
    const original = new RangeError('boom');
    (original as RangeError & { code?: string }).code = 'E_BOOM';
    class N extends Node {
      override async exec(): Promise<never> {
        throw original;
      }
    }
    const result = await outcome(new N(3).run({}));
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toBe(original);
  });

  it('rethrows non-Error throwables unchanged', async () => {
    class N extends Node {
      override async exec(): Promise<never> {
        throw 'a string';
      }
    }
    await expect(new N(2).run({})).rejects.toBe('a string');
  });

  it('an error from execFallback rejects run with that error', async () => {
    const fromFallback = new Error('fallback failed');
    class N extends Flaky {
      override async execFallback(): Promise<string> {
        throw fromFallback;
      }
    }
    await expect(new N([0], 1).run({ log: [] })).rejects.toBe(fromFallback);
  });

  it('errors from prep and post are not retried', async () => {
    let preps = 0;
    class N extends Node {
      override async prep() {
        preps++;
        throw new Error('prep failed');
      }
    }
    await expect(new N(3).run({})).rejects.toThrow('prep failed');
    expect(preps).toBe(1);
    let posts = 0;
    class M extends Node {
      override async post(): Promise<undefined> {
        posts++;
        throw new Error('post failed');
      }
    }
    await expect(new M(3).run({})).rejects.toThrow('post failed');
    expect(posts).toBe(1);
  });
});

describe('Node: bad options', () => {
  function errorOf(fn: () => unknown): InvalidOptionError {
    try {
      fn();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidOptionError);
      return error as InvalidOptionError;
    }
    throw new Error('expected an InvalidOptionError');
  }

  it.each([
    [0, 'maxRetries must be a positive integer, got 0'],
    [1.5, 'maxRetries must be a positive integer, got 1.5'],
    [-1, 'maxRetries must be a positive integer, got -1'],
    [Number.NaN, 'maxRetries must be a positive integer, got NaN'],
    [Number.POSITIVE_INFINITY, 'maxRetries must be a positive integer, got Infinity'],
  ])('positional maxRetries %s → InvalidOptionError naming option and value', (value, message) => {
    const error = errorOf(() => new Node(value));
    expect(error.option).toBe('maxRetries');
    expect(error.message).toBe(message);
    expect(error).toBeInstanceOf(TypeError);
  });

  it.each([
    [-1, 'wait must be a non-negative number of seconds, got -1'],
    [Number.NaN, 'wait must be a non-negative number of seconds, got NaN'],
    [Number.POSITIVE_INFINITY, 'wait must be a non-negative number of seconds, got Infinity'],
    ['1' as unknown as number, "wait must be a non-negative number of seconds, got '1'"],
  ])('positional wait %s → InvalidOptionError naming option and value', (value, message) => {
    const error = errorOf(() => new Node(1, value));
    expect(error.option).toBe('wait');
    expect(error.message).toBe(message);
  });

  it.each([
    [{ maxRetries: 0 }, 'maxRetries', 'maxRetries must be a positive integer, got 0'],
    [{ maxRetries: 1.5 }, 'maxRetries', 'maxRetries must be a positive integer, got 1.5'],
    [{ maxRetries: -1 }, 'maxRetries', 'maxRetries must be a positive integer, got -1'],
    [{ waitMs: -1 }, 'waitMs', 'waitMs must be a non-negative number, got -1'],
    [{ waitMs: Number.NaN }, 'waitMs', 'waitMs must be a non-negative number, got NaN'],
    [{ waitMs: '500' }, 'waitMs', "waitMs must be a non-negative number, got '500'"],
  ])('options %o → InvalidOptionError on %s', (options, option, message) => {
    const error = errorOf(() => new Node(options as never));
    expect(error.option).toBe(option);
    expect(error.message).toBe(message);
  });

  it('rejects unknown option keys, naming the key and suggesting the right one', () => {
    const error = errorOf(() => new Node({ maxRetires: 3 } as never));
    expect(error.option).toBe('maxRetires');
    expect(error.message).toBe("Node: unknown option 'maxRetires' (did you mean 'maxRetries'?)");
    expect(errorOf(() => new Node({ wait: 1 } as never)).message).toBe(
      "Node: unknown option 'wait' (did you mean 'waitMs'?)",
    );
    expect(errorOf(() => new Node({ colour: 'red' } as never)).message).toBe("Node: unknown option 'colour'");
  });

  it('names the subclass in unknown-option errors', () => {
    class Summarise extends Node {}
    expect(errorOf(() => new Summarise({ retries: 2 } as never)).message).toMatch(
      /^Summarise: unknown option 'retries'/,
    );
  });
});

describe('Node: fields assigned after construction (pocketflow style)', () => {
  it('honours maxRetries set directly on the instance', async () => {
    const n = new Flaky([0, 1, 2, 3], 1);
    n.maxRetries = 4;
    await n.run({ log: [] }).catch(() => {});
    expect(n.tries).toEqual([0, 1, 2, 3]);
  });

  it('a maxRetries that is not a number ends after one try instead of retrying forever', async () => {
    const n = new Flaky([0, 1, 2, 3, 4, 5]);
    n.maxRetries = undefined as unknown as number;
    await expect(n.run({ log: [] })).rejects.toThrow('fail 0');
    expect(n.tries).toEqual([0]);
  });
});
