import fc from 'fast-check';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import {
  InvalidOptionError,
  didYouMean,
  editDistance,
  formatValue,
  isInvalidOptionError,
  opt,
  parseOptions,
} from '../../src/validation/options';
import * as root from '../../src/index';

const schema = z.strictObject({
  maxPerMinute: opt.positiveInt().optional(),
  windowMs: opt.positiveNumber().optional(),
  jitter: opt.fraction().optional(),
  mode: opt.oneOf(['fast', 'safe']).optional(),
  name: opt.string().optional(),
  onEvent: opt.func().optional(),
  windows: z.array(z.strictObject({ limit: opt.nonNegativeInt() })).optional(),
});

function errorOf(input: unknown): InvalidOptionError {
  try {
    parseOptions(schema, input, 'Limiter');
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return error as InvalidOptionError;
  }
  throw new Error('expected parseOptions to throw');
}

describe('InvalidOptionError', () => {
  it('is a TypeError with a name, an option path and a message', () => {
    const e = new InvalidOptionError('maxRetries', 'maxRetries must be a positive integer, got 0');
    expect(e).toBeInstanceOf(TypeError);
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('InvalidOptionError');
    expect(e.option).toBe('maxRetries');
    expect(e.message).toBe('maxRetries must be a positive integer, got 0');
    expect(String(e)).toBe('InvalidOptionError: maxRetries must be a positive integer, got 0');
  });

  it('isInvalidOptionError recognises only InvalidOptionError', () => {
    expect(isInvalidOptionError(new InvalidOptionError('a', 'b'))).toBe(true);
    expect(isInvalidOptionError(new TypeError('b'))).toBe(false);
    expect(isInvalidOptionError({ name: 'InvalidOptionError', option: 'a' })).toBe(false);
    expect(isInvalidOptionError(undefined)).toBe(false);
  });

  it('is exported from the package root', () => {
    expect(root.InvalidOptionError).toBe(InvalidOptionError);
    expect(root.isInvalidOptionError).toBe(isInvalidOptionError);
  });
});

describe('parseOptions', () => {
  it('returns the parsed options when they are valid, and {} for undefined/null', () => {
    const onEvent = () => {};
    expect(parseOptions(schema, { maxPerMinute: 5, mode: 'fast', onEvent }, 'Limiter')).toEqual({
      maxPerMinute: 5,
      mode: 'fast',
      onEvent,
    });
    expect(parseOptions(schema, undefined, 'Limiter')).toEqual({});
    expect(parseOptions(schema, null, 'Limiter')).toEqual({});
  });

  it.each([
    [{ maxPerMinute: 0 }, 'maxPerMinute', 'maxPerMinute must be a positive integer, got 0'],
    [{ maxPerMinute: -3 }, 'maxPerMinute', 'maxPerMinute must be a positive integer, got -3'],
    [{ maxPerMinute: 2.5 }, 'maxPerMinute', 'maxPerMinute must be a positive integer, got 2.5'],
    [{ maxPerMinute: '5' }, 'maxPerMinute', "maxPerMinute must be a positive integer, got '5'"],
    [{ maxPerMinute: Number.NaN }, 'maxPerMinute', 'maxPerMinute must be a positive integer, got NaN'],
    [{ windowMs: 0 }, 'windowMs', 'windowMs must be a positive number, got 0'],
    [{ jitter: 1.5 }, 'jitter', 'jitter must be a number between 0 and 1, got 1.5'],
    [{ mode: 'slow' }, 'mode', "mode must be one of 'fast', 'safe', got 'slow'"],
    [{ name: 42 }, 'name', 'name must be a string, got 42'],
    [{ onEvent: 'x' }, 'onEvent', "onEvent must be a function, got 'x'"],
    [
      { windows: [{ limit: 1 }, { limit: -1 }] },
      'windows.1.limit',
      'windows.1.limit must be a non-negative integer, got -1',
    ],
  ])('%o → InvalidOptionError on %s', (input, option, message) => {
    const error = errorOf(input);
    expect(error.option).toBe(option);
    expect(error.message).toBe(message);
  });

  it('names an unknown key with the subject, and suggests the closest known option', () => {
    expect(errorOf({ maxPerMinut: 5 }).message).toBe(
      "Limiter: unknown option 'maxPerMinut' (did you mean 'maxPerMinute'?)",
    );
    expect(errorOf({ maxPerMinut: 5 }).option).toBe('maxPerMinut');
    expect(errorOf({ banana: 1 }).message).toBe("Limiter: unknown option 'banana'");
  });

  it('names an unknown key inside a nested object with its path', () => {
    const error = errorOf({ windows: [{ limit: 1, limt: 2 }] });
    expect(error.option).toBe('windows.0.limt');
    expect(error.message).toMatch(/^Limiter: unknown option 'windows\.0\.limt'/);
  });

  it('says when the options are not an object at all', () => {
    const error = errorOf(42);
    expect(error.option).toBe('');
    expect(error.message).toBe('Limiter options must be an object, got 42');
  });
});

describe('formatValue', () => {
  it.each([
    ['abc', "'abc'"],
    [3, '3'],
    [Number.NaN, 'NaN'],
    [true, 'true'],
    [null, 'null'],
    [undefined, 'undefined'],
    [() => 1, 'a function'],
    [{ a: 1 }, '{"a":1}'],
    [[1, 2], '[1,2]'],
  ])('%o → %s', (value, text) => {
    expect(formatValue(value)).toBe(text);
  });

  it('shortens long JSON to 60 characters', () => {
    const text = formatValue({ long: 'x'.repeat(200) });
    expect(text).toHaveLength(60);
    expect(text.endsWith('...')).toBe(true);
  });

  it('falls back to the object tag for values JSON cannot render', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(formatValue(cyclic)).toBe('[object Object]');
    expect(formatValue(10n)).toBe('[object BigInt]');
  });
});

describe('editDistance and didYouMean', () => {
  it('computes Levenshtein distances', () => {
    expect(editDistance('', '')).toBe(0);
    expect(editDistance('abc', '')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('flaw', 'lawn')).toBe(2);
  });

  it('is a metric: zero only for equal strings, symmetric, triangle inequality', () => {
    const word = fc.string({ maxLength: 8 });
    fc.assert(
      fc.property(word, word, word, (a, b, c) => {
        expect(editDistance(a, b) === 0).toBe(a === b);
        expect(editDistance(a, b)).toBe(editDistance(b, a));
        expect(editDistance(a, c)).toBeLessThanOrEqual(editDistance(a, b) + editDistance(b, c));
        expect(editDistance(a, b)).toBeLessThanOrEqual(Math.max(a.length, b.length));
      }),
      { numRuns: 200 },
    );
  });

  it('suggests the closest candidate case-insensitively, or nothing when none is close', () => {
    expect(didYouMean('maxretries', ['maxRetries', 'waitMs'])).toBe(" (did you mean 'maxRetries'?)");
    expect(didYouMean('wait', ['maxRetries', 'waitMs'])).toBe(" (did you mean 'waitMs'?)");
    expect(didYouMean('zzz', ['maxRetries', 'waitMs'])).toBe('');
    expect(didYouMean('a', [])).toBe('');
  });
});
