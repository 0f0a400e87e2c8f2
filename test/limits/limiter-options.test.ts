import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/testing/fake-clock';
import { Limiter } from '../../src/limits/limiter';
import { resolveWindows } from '../../src/limits/limiter-options';
import { MemoryStore } from '../../src/stores/memory-store';
import { InvalidOptionError, isInvalidOptionError } from '../../src/validation/options';

/** The error `new Limiter(options)` throws. */
function errorOf(options: unknown): InvalidOptionError {
  try {
    new Limiter(options as never);
  } catch (error) {
    if (isInvalidOptionError(error)) return error;
    throw error;
  }
  throw new Error('no error thrown');
}

describe('Limiter options', () => {
  it.each([
    [{ maxPerMinute: -3 }, 'maxPerMinute', 'maxPerMinute must be a positive integer, got -3'],
    [{ maxConcurrent: 0 }, 'maxConcurrent', 'maxConcurrent must be a positive integer, got 0'],
    [{ maxConcurrent: 2.5 }, 'maxConcurrent', 'maxConcurrent must be a positive integer, got 2.5'],
    [{ maxConcurrent: '10' }, 'maxConcurrent', "maxConcurrent must be a positive integer, got '10'"],
    [{ maxTokensPerMinute: 0 }, 'maxTokensPerMinute', 'maxTokensPerMinute must be a positive integer, got 0'],
    [{ maxPerDay: -1 }, 'maxPerDay', 'maxPerDay must be a positive integer, got -1'],
    [
      { maxPerWindow: 1.5, windowMs: 1000 },
      'maxPerWindow',
      'maxPerWindow must be a positive integer, got 1.5',
    ],
    [{ maxPerWindow: 5, windowMs: -1000 }, 'windowMs', 'windowMs must be a positive number, got -1000'],
    [{ windowMarginMs: -1 }, 'windowMarginMs', 'windowMarginMs must be a non-negative number, got -1'],
    [{ reconcile: 'down' }, 'reconcile', "reconcile must be one of 'up', 'both', got 'down'"],
    [{ maxQueued: 0 }, 'maxQueued', 'maxQueued must be a positive integer, got 0'],
    [{ name: 42 }, 'name', 'name must be a string, got 42'],
    [
      { windows: [{ resource: 'tokens', limit: -1, windowMs: 1000 }] },
      'windows.0.limit',
      'windows.0.limit must be a positive integer, got -1',
    ],
    [
      { windows: [{ resource: '', limit: 1, windowMs: 1000 }] },
      'windows.0.resource',
      "windows.0.resource must be a non-empty string, got ''",
    ],
    [
      { windows: [{ resource: 'x', limit: 1, windowMs: 0 }] },
      'windows.0.windowMs',
      'windows.0.windowMs must be a positive number, got 0',
    ],
    [
      { windows: 'requests' },
      'windows',
      "windows must be an array of { resource, limit, windowMs }, got 'requests'",
    ],
  ])('%j is rejected naming the option and value', (options, option, message) => {
    const error = errorOf(options);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error.option).toBe(option);
    expect(error.message).toBe(message);
  });

  it('rejects a clock or store of the wrong shape', () => {
    expect(errorOf({ clock: { now: () => 0 } }).message).toMatch(/^clock must be a Clock/);
    expect(errorOf({ store: {} }).message).toMatch(/^store must be a Store/);
  });

  it('rejects an unknown option, naming it and suggesting the likely one', () => {
    expect(errorOf({ maxPerMinutes: 10 }).message).toBe(
      "Limiter: unknown option 'maxPerMinutes' (did you mean 'maxPerMinute'?)",
    );
    expect(errorOf({ windows: [{ resource: 'tokens', limit: 5, windowMs: 1000, margin: 3 }] }).message).toBe(
      "Limiter: unknown option 'windows.0.margin'",
    );
  });

  it('windowMs needs maxPerWindow', () => {
    expect(errorOf({ windowMs: 1000 }).message).toBe(
      'windowMs needs maxPerWindow (requests per window), got windowMs 1000 alone',
    );
  });

  it('Limiter.validateOptions checks without making a limiter, with the subject in unknown-key errors', () => {
    expect(Limiter.validateOptions({ maxConcurrent: 3 })).toEqual({ maxConcurrent: 3 });
    expect(() => Limiter.validateOptions({ maxConcurent: 3 }, 'MyNode')).toThrow(
      "MyNode: unknown option 'maxConcurent' (did you mean 'maxConcurrent'?)",
    );
  });

  it('accepts every documented option together, and undefined for any of them', () => {
    const limiter = new Limiter({
      maxConcurrent: 10,
      maxPerMinute: 500,
      maxTokensPerMinute: 200_000,
      maxPerDay: 10_000,
      maxPerWindow: 40,
      windowMs: 1000,
      windows: [{ resource: 'images', limit: 5, windowMs: 60_000 }],
      windowMarginMs: 50,
      reconcile: 'both',
      clock: new FakeClock(),
      store: new MemoryStore(),
      name: 'openai',
      maxQueued: 1000,
    });
    expect(limiter.name).toBe('openai');
    expect(limiter.maxQueued).toBe(1000);
    expect(
      new Limiter({ maxConcurrent: undefined, maxPerMinute: undefined, clock: undefined }).stats()
        .maxConcurrent,
    ).toBe(Infinity);
  });
});

describe('resolveWindows', () => {
  it('turns the shorthands into windows, each widened by 1 % by default', () => {
    expect(
      resolveWindows({
        maxPerMinute: 500,
        maxTokensPerMinute: 200_000,
        maxPerDay: 10_000,
        maxPerWindow: 40,
        windowMs: 1000,
      }),
    ).toEqual([
      { resource: 'requests', limit: 500, configuredWindowMs: 60_000, windowMs: 60_600 },
      { resource: 'requests', limit: 40, configuredWindowMs: 1000, windowMs: 1010 },
      { resource: 'tokens', limit: 200_000, configuredWindowMs: 60_000, windowMs: 60_600 },
      { resource: 'requests', limit: 10_000, configuredWindowMs: 86_400_000, windowMs: 87_264_000 },
    ]);
  });

  it('windowMarginMs replaces the 1 % default for every window', () => {
    expect(
      resolveWindows({
        maxPerMinute: 5,
        windows: [{ resource: 'x', limit: 1, windowMs: 10 }],
        windowMarginMs: 0,
      }),
    ).toEqual([
      { resource: 'requests', limit: 5, configuredWindowMs: 60_000, windowMs: 60_000 },
      { resource: 'x', limit: 1, configuredWindowMs: 10, windowMs: 10 },
    ]);
  });

  it('maxPerWindow without windowMs is per minute', () => {
    expect(resolveWindows({ maxPerWindow: 7, windowMarginMs: 0 })).toEqual([
      { resource: 'requests', limit: 7, configuredWindowMs: 60_000, windowMs: 60_000 },
    ]);
  });

  it('two limits on one resource and window become one window with the smaller limit', () => {
    expect(
      resolveWindows({
        maxPerMinute: 500,
        windows: [{ resource: 'requests', limit: 300, windowMs: 60_000 }],
      }),
    ).toEqual([{ resource: 'requests', limit: 300, configuredWindowMs: 60_000, windowMs: 60_600 }]);
  });
});
