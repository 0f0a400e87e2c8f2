import { describe, expect, it } from 'vitest';
import { Node } from '../../src/core/node';
import { Limiter } from '../../src/limits/limiter';
import { FallbackNode } from '../../src/routing/fallback-node';
import { withFallback, type FallbackTarget } from '../../src/routing/fallback-chain';
import { FakeClock } from '../../src/testing/fake-clock';
import { AdaptiveThrottledBatchFlow } from '../../src/throttled/adaptive-throttled-batch-flow';
import { AdaptiveThrottledNode } from '../../src/throttled/adaptive-throttled-node';
import { ThrottledBatchFlow } from '../../src/throttled/throttled-batch-flow';
import { ThrottledParallelBatchNode } from '../../src/throttled/throttled-parallel-batch-node';
import { findMisspelt, InvalidOptionError } from '../../src/validation/options';
import { runOnFakeClock } from '../throttled/support';

/** The InvalidOptionError `fn` throws (or whose promise rejects). */
async function optionError(fn: () => unknown): Promise<InvalidOptionError> {
  try {
    await fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return error as InvalidOptionError;
  }
  throw new Error('expected an InvalidOptionError');
}

/** Asserts the error names the bad key and suggests the right one. */
function expectSuggestion(error: InvalidOptionError, bad: string, suggestion: string): void {
  expect(error.option).toBe(bad);
  expect(error.message).toContain(`unknown option '${bad}'`);
  expect(error.message).toContain(`(did you mean '${suggestion}'?)`);
}

// Typed escape hatch: the misspelt keys are what a JavaScript caller (or a spread object) passes.
const loose = (options: Record<string, unknown>): never => options as never;

describe('misspelt constructor options are refused with "did you mean"', () => {
  it('ThrottledParallelBatchNode', async () => {
    const error = await optionError(() => new ThrottledParallelBatchNode(loose({ maxConcurent: 5 })));
    expectSuggestion(error, 'maxConcurent', 'maxConcurrent');
    expect(error.message).toMatch(/^ThrottledParallelBatchNode: /);
  });

  it('ThrottledParallelBatchNode: also a misspelt policy option, and with a shared limiter', async () => {
    expectSuggestion(
      await optionError(() => new ThrottledParallelBatchNode(loose({ maxRateLimitRetires: 3 }))),
      'maxRateLimitRetires',
      'maxRateLimitRetries',
    );
    const limiter = new Limiter();
    expectSuggestion(
      await optionError(() => new ThrottledParallelBatchNode(loose({ limiter, maxPerMinut: 3 }))),
      'maxPerMinut',
      'maxPerMinute',
    );
  });

  it('AdaptiveThrottledNode (its AIMD options are suggested too)', async () => {
    const error = await optionError(() => new AdaptiveThrottledNode(loose({ initialConcurent: 5 })));
    expectSuggestion(error, 'initialConcurent', 'initialConcurrent');
    expect(error.message).toMatch(/^AdaptiveThrottledNode: /);
    expectSuggestion(
      await optionError(() => new AdaptiveThrottledNode(loose({ maxConcurent: 5 }))),
      'maxConcurent',
      'maxConcurrent',
    );
  });

  it('ThrottledBatchFlow', async () => {
    const error = await optionError(
      () => new ThrottledBatchFlow(new Node(), loose({ maxConcurentFlows: 5 })),
    );
    expectSuggestion(error, 'maxConcurentFlows', 'maxConcurrentFlows');
  });

  it('AdaptiveThrottledBatchFlow', async () => {
    const error = await optionError(
      () => new AdaptiveThrottledBatchFlow(new Node(), loose({ initialConcurentFlows: 5 })),
    );
    expectSuggestion(error, 'initialConcurentFlows', 'initialConcurrentFlows');
    expect(error.message).toMatch(/^AdaptiveThrottledBatchFlow: /);
  });

  it('FallbackNode, with targets or without (the chain is checked before it is made)', async () => {
    const error = await optionError(() => new FallbackNode(loose({ maxRateLimitRetires: 1 })));
    expectSuggestion(error, 'maxRateLimitRetires', 'maxRateLimitRetries');
    expect(error.message).toMatch(/^FallbackNode: /);
    expectSuggestion(
      await optionError(() => new FallbackNode(loose({ maxRetires: 2 }))),
      'maxRetires',
      'maxRetries',
    );
    const targets: FallbackTarget<string, string>[] = [{ name: 'a', limiter: new Limiter(), call: (s) => s }];
    expectSuggestion(
      await optionError(() => new FallbackNode(loose({ targets, rateLimitBackofMs: 5 }))),
      'rateLimitBackofMs',
      'rateLimitBackoffMs',
    );
  });

  it('withFallback: a target field that looks misspelt is refused; fields of your own pass', async () => {
    const limiter = new Limiter();
    const error = await optionError(() =>
      withFallback([
        { name: 'a', limiter, call: (s: string) => s, maxRateLimitRetires: 2 } as FallbackTarget<
          string,
          string
        >,
      ]),
    );
    expectSuggestion(error, 'targets.0.maxRateLimitRetires', 'maxRateLimitRetries');
    expect(() =>
      withFallback([
        { name: 'a', limiter, call: (s: string) => s, model: 'gpt-4o', region: 'eu' } as FallbackTarget<
          string,
          string
        >,
      ]),
    ).not.toThrow();
  });
});

describe('misspelt options set as subclass fields fail at the first run', () => {
  it('ThrottledParallelBatchNode subclass field', async () => {
    class Translate extends ThrottledParallelBatchNode<unknown, string, string> {
      maxConcurent = 5;
      override async prep() {
        return ['a'];
      }
    }
    const node = new Translate(); // fields are read lazily: construction passes
    const error = await optionError(() => node.run({}));
    expectSuggestion(error, 'maxConcurent', 'maxConcurrent');
    expect(error.message).toMatch(/^Translate: /);
    expect(error.message).toContain('field of the subclass');
    // Still refused on the next run (nothing was half set up).
    await expect(node.run({})).rejects.toThrow(InvalidOptionError);
  });

  it('AdaptiveThrottledNode subclass field', async () => {
    class Smart extends AdaptiveThrottledNode<unknown, string, string> {
      initialConcurent = 10;
    }
    expectSuggestion(await optionError(() => new Smart().run({})), 'initialConcurent', 'initialConcurrent');
  });

  it('ThrottledBatchFlow and AdaptiveThrottledBatchFlow subclass fields', async () => {
    class Users extends ThrottledBatchFlow {
      maxFlowsPerMinut = 60;
    }
    expectSuggestion(
      await optionError(() => new Users(new Node()).run({})),
      'maxFlowsPerMinut',
      'maxFlowsPerMinute',
    );
    class SmartUsers extends AdaptiveThrottledBatchFlow {
      minConcurentFlows = 2;
    }
    expectSuggestion(
      await optionError(() => new SmartUsers(new Node()).run({})),
      'minConcurentFlows',
      'minConcurrentFlows',
    );
  });

  it('FallbackNode subclass field', async () => {
    class Summarise extends FallbackNode<unknown, string, string> {
      override targets = [{ name: 'a', limiter: new Limiter(), call: (s: string) => s }];
      maxRateLimitRetires = 1;
    }
    expectSuggestion(
      await optionError(() => new Summarise().run({})),
      'maxRateLimitRetires',
      'maxRateLimitRetries',
    );
  });
});

describe('correct options and fields of your own pass', () => {
  it('every documented option of a node, an adaptive node, a flow and a fallback node is accepted', () => {
    const clock = new FakeClock();
    expect(
      () =>
        new ThrottledParallelBatchNode({
          maxRetries: 2,
          waitMs: 10,
          maxConcurrent: 3,
          maxPerMinute: 60,
          maxTokensPerMinute: 10_000,
          maxPerDay: 1000,
          maxPerWindow: 5,
          windowMs: 1000,
          windows: [{ resource: 'images', limit: 3, windowMs: 1000 }],
          windowMarginMs: 10,
          reconcile: 'both',
          clock,
          maxRateLimitRetries: 3,
          rateLimitBackoffMs: 100,
          maxRateLimitBackoffMs: 1000,
          priority: 1,
          onEvent: () => {},
          timeoutMs: 1000,
          model: 'gpt-4o',
          warnings: false,
        }),
    ).not.toThrow();
    expect(
      () =>
        new AdaptiveThrottledNode({
          initialConcurrent: 2,
          minConcurrent: 1,
          maxConcurrent: 4,
          backoffFactor: 0.5,
          recoveryThreshold: 3,
          recoveryFactor: 1.5,
          propagateRateLimit: true,
          maxPerMinute: 60,
          warnings: true,
        }),
    ).not.toThrow();
    expect(
      () =>
        new AdaptiveThrottledBatchFlow(new Node(), {
          initialConcurrentFlows: 2,
          maxFlowRetries: 1,
          rateLimitBackoffMs: 50,
          onError: 'collect',
        }),
    ).not.toThrow();
    expect(
      () =>
        new FallbackNode({
          maxRetries: 2,
          waitMs: 0,
          name: 'chain',
          maxRateLimitRetries: 1,
          shouldFallback: () => true,
        }),
    ).not.toThrow();
  });

  it('user fields such as model, prompt, client, limit or models run without complaint', async () => {
    const clock = new FakeClock();
    class Summarise extends ThrottledParallelBatchNode<unknown, string, string> {
      override maxConcurrent = 2;
      override maxPerMinute = 60;
      override model = 'gpt-4o-mini';
      prompt = 'Summarise:';
      client = { call: (text: string) => `${this.prompt} ${text}` };
      limit = 10;
      models = ['a', 'b'];
      window = 3;
      results: string[] = [];
      override async prep() {
        return ['x', 'y'];
      }
      override async exec(text: string) {
        return this.client.call(text);
      }
      override async post(_shared: unknown, _items: string[], results: string[]) {
        this.results = results;
        return undefined;
      }
    }
    const node = new Summarise({ clock });
    await runOnFakeClock(clock, node.run({}));
    expect(node.results).toEqual(['Summarise: x', 'Summarise: y']);
  });

  it('a subclass may override methods and keep fields under option names it sets correctly', async () => {
    const clock = new FakeClock();
    class Smart extends AdaptiveThrottledNode<unknown, number, number> {
      override initialConcurrent = 2;
      override propagateRateLimit = false;
      override tokensFor = () => undefined; // a method given as a field: a known member, not a typo
      override async prep() {
        return [1, 2, 3];
      }
      override async exec(n: number) {
        return n * 2;
      }
    }
    const node = new Smart({ clock });
    await runOnFakeClock(clock, node.run({}));
    expect(node.stats.totalSuccesses).toBe(3);
  });
});

describe('FallbackNode reads its chain options from subclass fields too', () => {
  it('a maxRateLimitRetries field keeps a call on the first target through one 429', async () => {
    const clock = new FakeClock();
    let primaryCalls = 0;
    const rateLimited = Object.assign(new Error('429'), {
      status: 429,
      headers: { 'retry-after-ms': '100' },
    });
    class Summarise extends FallbackNode<unknown, string, string> {
      override targets = [
        {
          name: 'primary',
          limiter: new Limiter({ clock, warnings: false }),
          call: (s: string) => (primaryCalls++ === 0 ? Promise.reject(rateLimited) : s),
        },
        { name: 'secondary', limiter: new Limiter({ clock, warnings: false }), call: (s: string) => s },
      ];
      override maxRateLimitRetries = 1;
      override async prep() {
        return ['a'];
      }
    }
    const node = new Summarise();
    await runOnFakeClock(clock, node.run({}));
    expect(node.stats.servedBy).toEqual({ primary: 1, secondary: 0 });
  });
});

describe('findMisspelt', () => {
  const options = ['maxConcurrent', 'timeoutMs', 'limiter', 'model', 'cache'];

  it('finds near misses of long names and case-only differences of any length', () => {
    expect(findMisspelt(['maxConcurent'], options)).toBe('maxConcurent');
    expect(findMisspelt(['maxConcurrency'], options)).toBe('maxConcurrency');
    expect(findMisspelt(['timeout'], options)).toBe('timeout');
    expect(findMisspelt(['Model'], options)).toBe('Model');
  });

  it('leaves known names, far names and short near words alone', () => {
    expect(
      findMisspelt(['maxConcurrent', 'model', 'prompt', 'client', 'limit', 'models', 'caches'], options),
    ).toBeUndefined();
  });
});
