import { afterEach, describe, expect, it } from 'vitest';
import {
  assertFitsContext,
  ContextLengthError,
  contextWindowOf,
  costOf,
  DEFAULT_MODEL_PRICES,
  defaultPriceTable,
  definePrices,
  isContextLengthError,
  isUnknownModelError,
  normalizeUsage,
  PriceTable,
  UnknownModelError,
} from '../../src/cost';
import { InvalidOptionError } from '../../src/validation/options';

afterEach(() => {
  defaultPriceTable.reset();
});

const caught = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
};

describe('costOf', () => {
  it('prices OpenAI usage from the table', () => {
    // gpt-4o: $2.50 in / $10 out per million.
    expect(costOf('gpt-4o', { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 })).toBeCloseTo(
      0.0075,
      12,
    );
  });

  it('prices Anthropic usage, cache reads at 0.1× and cache writes at 1.25× input', () => {
    // claude-3-5-haiku: $0.80 in / $4 out.
    expect(costOf('claude-3-5-haiku-20241022', { input_tokens: 2000, output_tokens: 1000 })).toBeCloseTo(
      0.0056,
      12,
    );
    const withCache = {
      input_tokens: 1000,
      output_tokens: 0,
      cache_read_input_tokens: 10_000,
      cache_creation_input_tokens: 4000,
    };
    expect(costOf('claude-3-5-haiku', withCache)).toBeCloseTo(
      (1000 * 0.8 + 10_000 * 0.08 + 4000 * 1.0) / 1e6,
      12,
    );
  });

  it('prices camelCase usage, and a response that carries usage', () => {
    // gemini-2.0-flash: $0.10 in / $0.40 out.
    expect(costOf('gemini-2.0-flash', { inputTokens: 10_000, outputTokens: 2000 })).toBeCloseTo(0.0018, 12);
    expect(
      costOf('gpt-4o-mini', {
        id: 'x',
        usage: { prompt_tokens: 1_000_000, completion_tokens: 1_000_000 },
      } as never),
    ).toBeCloseTo(0.75, 12);
    expect(
      costOf('gemini-2.5-flash', {
        usageMetadata: { promptTokenCount: 1000, candidatesTokenCount: 100, thoughtsTokenCount: 900 },
      }),
    ).toBeCloseTo((1000 * 0.3 + 1000 * 2.5) / 1e6, 12);
  });

  it('bills OpenAI cached prompt tokens at the cached rate', () => {
    // gpt-4.1: $2 in, $0.50 cached, $8 out; 600 of 1000 prompt tokens were cached.
    const usage = {
      prompt_tokens: 1000,
      completion_tokens: 0,
      prompt_tokens_details: { cached_tokens: 600 },
    };
    expect(costOf('gpt-4.1-2025-04-14', usage)).toBeCloseTo((400 * 2 + 600 * 0.5) / 1e6, 12);
  });

  it('switches the whole call to long-context rates past the threshold (gemini-2.5-pro above 200k)', () => {
    expect(costOf('gemini-2.5-pro', { inputTokens: 200_000, outputTokens: 1000 })).toBeCloseTo(
      (200_000 * 1.25 + 1000 * 10) / 1e6,
      12,
    );
    expect(costOf('gemini-2.5-pro', { inputTokens: 200_001, outputTokens: 1000 })).toBeCloseTo(
      (200_001 * 2.5 + 1000 * 15) / 1e6,
      12,
    );
    // Sonnet's 1M-context beta: the threshold counts cached and cache-write input too.
    const sonnet = {
      input_tokens: 100_000,
      output_tokens: 1000,
      cache_read_input_tokens: 100_000,
      cache_creation_input_tokens: 10_000,
    };
    expect(costOf('claude-sonnet-4-5', sonnet)).toBeCloseTo(
      (100_000 * 6 + 100_000 * 0.6 + 10_000 * 7.5 + 1000 * 22.5) / 1e6,
      12,
    );
  });

  it('throws UnknownModelError naming the model and close names, never a silent zero', () => {
    const error = caught(() => costOf('gpt-4oo', { prompt_tokens: 10, completion_tokens: 10 }));
    expect(isUnknownModelError(error)).toBe(true);
    const e = error as UnknownModelError;
    expect(e.model).toBe('gpt-4oo');
    expect(e.suggestions).toContain('gpt-4o');
    expect(e.message).toMatch(
      /^Unknown model 'gpt-4oo': it is not in the price table\. Close names: .*gpt-4o/,
    );
    expect(e.message).toContain("definePrices({ 'gpt-4oo'");
    expect(() => costOf('totally-made-up-model', { inputTokens: 1 })).toThrow(UnknownModelError);
  });

  it('rejects usage it cannot read', () => {
    expect(() => costOf('gpt-4o', { tokens: 5 } as never)).toThrow(/Unrecognised usage/);
    expect(() => costOf('gpt-4o', { prompt_tokens: -1 })).toThrow(
      /usage.prompt_tokens must be a non-negative number, got -1/,
    );
  });
});

describe('normalizeUsage', () => {
  it('reads every supported shape into total input (cached included) and output', () => {
    expect(
      normalizeUsage({
        prompt_tokens: 100,
        completion_tokens: 20,
        prompt_tokens_details: { cached_tokens: 40 },
      }),
    ).toEqual({
      inputTokens: 100,
      outputTokens: 20,
      cachedInputTokens: 40,
      cacheWriteInputTokens: 0,
      totalTokens: 120,
    });
    // Anthropic reports cache reads/writes beside input_tokens.
    expect(
      normalizeUsage({
        input_tokens: 100,
        output_tokens: 20,
        cache_read_input_tokens: 50,
        cache_creation_input_tokens: 10,
      }),
    ).toEqual({
      inputTokens: 160,
      outputTokens: 20,
      cachedInputTokens: 50,
      cacheWriteInputTokens: 10,
      totalTokens: 180,
    });
    // OpenAI Responses: same names as Anthropic, but input_tokens include the cached ones.
    expect(
      normalizeUsage({ input_tokens: 100, output_tokens: 20, input_tokens_details: { cached_tokens: 30 } }),
    ).toMatchObject({
      inputTokens: 100,
      cachedInputTokens: 30,
    });
    expect(normalizeUsage({ inputTokens: 7, outputTokens: 3 }).totalTokens).toBe(10);
    expect(normalizeUsage({ promptTokens: 7, completionTokens: 3 }).totalTokens).toBe(10);
    expect(
      normalizeUsage({ promptTokenCount: 7, candidatesTokenCount: 3, thoughtsTokenCount: 5 }),
    ).toMatchObject({ inputTokens: 7, outputTokens: 8 });
  });

  it('refuses cached counts larger than the input', () => {
    expect(() => normalizeUsage({ prompt_tokens: 10, prompt_tokens_details: { cached_tokens: 11 } })).toThrow(
      /11 cached/,
    );
  });
});

describe('model name resolution', () => {
  it.each([
    ['gpt-4o-2024-08-06', 'gpt-4o'],
    ['gpt-4o-mini-2024-07-18', 'gpt-4o-mini'],
    ['gpt-4o-2024-05-13', 'gpt-4o-2024-05-13'],
    ['GPT-4o', 'gpt-4o'],
    ['gpt-3.5-turbo-0125', 'gpt-3.5-turbo'],
    ['gpt-4-0613', 'gpt-4'],
    ['gpt-4-turbo-2024-04-09', 'gpt-4-turbo'],
    ['o3-2025-04-16', 'o3'],
    ['o4-mini-2025-04-16', 'o4-mini'],
    ['gpt-5-mini-2025-08-07', 'gpt-5-mini'],
    ['gpt-5-chat-latest', 'gpt-5-chat'],
    ['claude-3-5-haiku-20241022', 'claude-3-5-haiku'],
    ['claude-3-5-haiku-latest', 'claude-3-5-haiku'],
    ['claude-3-5-haiku@20241022', 'claude-3-5-haiku'],
    ['us.anthropic.claude-3-5-haiku-20241022-v1:0', 'claude-3-5-haiku'],
    ['anthropic/claude-sonnet-4-5', 'claude-sonnet-4-5'],
    ['claude-sonnet-4-5-20250929', 'claude-sonnet-4-5'],
    ['claude-sonnet-4-20250514', 'claude-sonnet-4'],
    ['claude-opus-4-1-20250805', 'claude-opus-4-1'],
    ['claude-haiku-4-5-20251001', 'claude-haiku-4-5'],
    ['models/gemini-2.0-flash', 'gemini-2.0-flash'],
    ['gemini-2.0-flash-001', 'gemini-2.0-flash'],
    ['gemini-2.5-flash-preview-05-20', 'gemini-2.5-flash'],
    ['gemini-2.5-flash-lite-preview-06-17', 'gemini-2.5-flash-lite'],
    ['mistral-large-latest', 'mistral-large'],
    ['mistral-small-2503', 'mistral-small'],
  ])('%s → %s', (name, key) => {
    expect(defaultPriceTable.resolve(name).model).toBe(key);
  });

  it.each([
    'gpt-4o-audio-preview',
    'gpt-4o-realtime-preview-2024-12-17',
    'gemini-2.5-flash-image',
    'gpt-5.1',
    'claude-sonnet-4-7',
    'o1x',
  ])('%s is another model, not a dated variant: unknown', (name) => {
    expect(defaultPriceTable.has(name)).toBe(false);
    expect(() => defaultPriceTable.get(name)).toThrow(UnknownModelError);
  });

  it('suggests the base model for an unknown point release', () => {
    expect((caught(() => defaultPriceTable.get('gpt-5.1')) as UnknownModelError).suggestions[0]).toBe(
      'gpt-5',
    );
  });
});

describe('the default table', () => {
  it('holds the models the issue names, each with prices and a context window', () => {
    const required = [
      'gpt-4o',
      'gpt-4o-mini',
      'gpt-4.1',
      'gpt-4.1-mini',
      'gpt-4.1-nano',
      'o3',
      'o4-mini',
      'gpt-5',
      'gpt-5-mini',
      'claude-3-5-haiku',
      'claude-3-7-sonnet',
      'claude-sonnet-4',
      'claude-opus-4',
      'claude-haiku-4-5',
      'claude-sonnet-4-5',
      'gemini-2.0-flash',
      'gemini-2.5-flash',
      'gemini-2.5-pro',
      'mistral-large',
      'mistral-small',
    ];
    for (const model of required) {
      const price = defaultPriceTable.get(model);
      expect(price.inputUsdPerMillion, model).toBeGreaterThan(0);
      expect(price.outputUsdPerMillion, model).toBeGreaterThanOrEqual(price.inputUsdPerMillion);
      expect(price.contextWindowTokens, model).toBeGreaterThanOrEqual(32_000);
    }
  });

  it('is frozen data', () => {
    expect(Object.isFrozen(DEFAULT_MODEL_PRICES)).toBe(true);
    expect(Object.isFrozen(DEFAULT_MODEL_PRICES['gpt-4o'])).toBe(true);
    expect(Object.isFrozen(defaultPriceTable.get('gpt-4o'))).toBe(true);
  });
});

describe('PriceTable and definePrices', () => {
  it('set/get/has on a private table leaves the default alone', () => {
    const table = new PriceTable();
    expect(table.has('gpt-4o')).toBe(false);
    table.set('my-model', { inputUsdPerMillion: 1, outputUsdPerMillion: 2, contextWindowTokens: 8000 });
    expect(table.get('My-Model-2025-01-01')).toEqual({
      inputUsdPerMillion: 1,
      outputUsdPerMillion: 2,
      contextWindowTokens: 8000,
    });
    expect(costOf('my-model', { inputTokens: 1_000_000, outputTokens: 1_000_000 }, table)).toBe(3);
    expect(defaultPriceTable.has('my-model')).toBe(false);
  });

  it('definePrices merges a partial entry over what the name resolves to', () => {
    definePrices({ 'gpt-4o': { inputUsdPerMillion: 2 } });
    expect(defaultPriceTable.get('gpt-4o')).toMatchObject({
      inputUsdPerMillion: 2,
      outputUsdPerMillion: 10,
      contextWindowTokens: 128_000,
    });
    definePrices({ 'gpt-4o-2024-11-20': { outputUsdPerMillion: 9 } });
    expect(defaultPriceTable.resolve('gpt-4o-2024-11-20')).toMatchObject({
      model: 'gpt-4o-2024-11-20',
      price: { outputUsdPerMillion: 9, inputUsdPerMillion: 2 },
    });
    expect(costOf('gpt-4o-2024-11-20', { inputTokens: 1e6, outputTokens: 1e6 })).toBe(11);
    defaultPriceTable.reset();
    expect(defaultPriceTable.get('gpt-4o').inputUsdPerMillion).toBe(2.5);
    expect(defaultPriceTable.has('gpt-4o-2024-11-20')).toBe(true); // back to resolving to gpt-4o
    expect(defaultPriceTable.resolve('gpt-4o-2024-11-20').model).toBe('gpt-4o');
  });

  it('validates entries with messages that name the field and value', () => {
    const table = new PriceTable();
    expect(() =>
      table.set('m', { inputUsdPerMillion: -1, outputUsdPerMillion: 1, contextWindowTokens: 10 }),
    ).toThrow('m.inputUsdPerMillion must be a non-negative number, got -1');
    expect(() =>
      definePrices({ 'brand-new': { inputUsdPerMillion: 1, outputUsdPerMillion: 1 } }, table),
    ).toThrow(/brand-new\.contextWindowTokens must be a positive integer, got undefined/);
    expect(() =>
      table.set('m', {
        inputUsdPerMillion: 1,
        outputUsdPerMillion: 1,
        contextWindowTokens: 10,
        inputUsd: 3,
      } as never),
    ).toThrow(InvalidOptionError);
  });

  it('delete removes an exact entry and lists models', () => {
    const table = new PriceTable(DEFAULT_MODEL_PRICES);
    expect(table.models()).toContain('gpt-4o-mini');
    expect(table.delete('gpt-4o-mini')).toBe(true);
    expect(table.delete('gpt-4o-mini')).toBe(false);
    expect(table.has('gpt-4o-mini')).toBe(false);
    expect(defaultPriceTable.has('gpt-4o-mini')).toBe(true);
  });
});

describe('context windows', () => {
  it('contextWindowOf reads the table, dated names included', () => {
    expect(contextWindowOf('gpt-4o-2024-08-06')).toBe(128_000);
    expect(contextWindowOf('claude-sonnet-4-5-20250929')).toBe(200_000);
    expect(contextWindowOf('gemini-2.5-pro')).toBe(1_048_576);
    expect(() => contextWindowOf('nope-1')).toThrow(UnknownModelError);
  });

  it('assertFitsContext passes up to the window exactly', () => {
    expect(() => assertFitsContext('gpt-4o', 128_000 - 4096, 4096)).not.toThrow();
    expect(() => assertFitsContext('gpt-4o', 128_000)).not.toThrow();
  });

  it('throws ContextLengthError naming model, prompt tokens and window when prompt + output is too big', () => {
    const error = caught(() => assertFitsContext('gpt-4o-2024-08-06', 125_000, 4096));
    expect(isContextLengthError(error)).toBe(true);
    const e = error as ContextLengthError;
    expect(e.message).toBe(
      'Prompt too long for gpt-4o-2024-08-06 (gpt-4o): 125,000 prompt tokens + 4,096 max output tokens > context window of 128,000 tokens',
    );
    expect(e).toMatchObject({
      model: 'gpt-4o-2024-08-06',
      promptTokens: 125_000,
      maxOutputTokens: 4096,
      contextWindowTokens: 128_000,
      excessTokens: 1096,
    });
    expect(e).toBeInstanceOf(RangeError);
  });

  it('checks the output limit and a separate input limit where the model has them', () => {
    expect(() => assertFitsContext('gpt-4o', 1000, 20_000)).toThrow(
      'gpt-4o returns at most 16,384 output tokens, but 20,000 were requested',
    );
    // GPT-5: 400k window, but at most 272k of prompt.
    expect(() => assertFitsContext('gpt-5', 272_000, 128_000)).not.toThrow();
    expect(() => assertFitsContext('gpt-5', 300_000, 1000)).toThrow(
      /300,000 prompt tokens > input limit of 272,000 tokens/,
    );
    expect(() => assertFitsContext('gpt-4o', -1)).toThrow(
      /promptTokens must be a non-negative number, got -1/,
    );
  });
});
