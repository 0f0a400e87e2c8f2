import { afterEach, describe, expect, it } from 'vitest';
import { Presets } from '../../src/presets/presets';
import { limiterOptionsFromEnv } from '../../src/registry/from-env';
import { LimiterRegistry } from '../../src/registry/limiter-registry';
import { isInvalidOptionError } from '../../src/validation/options';

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe('limiterOptionsFromEnv', () => {
  it('reads presets by full name or by the provider-relative tail, case-insensitively', () => {
    expect(
      limiterOptionsFromEnv({
        THROTTLEFLOW_OPENAI: 'tier2',
        THROTTLEFLOW_AZURE: 'openai_tier3',
        THROTTLEFLOW_ANTHROPIC: 'TIER3',
        THROTTLEFLOW_GOOGLE: 'free',
        THROTTLEFLOW_MY_API: 'moderate',
        THROTTLEFLOW_MISTRAL: 'standard',
        PATH: '/usr/bin',
      }),
    ).toEqual({
      openai: { ...Presets.OPENAI_TIER2 },
      azure: { ...Presets.OPENAI_TIER3 },
      anthropic: { ...Presets.ANTHROPIC_BUILD_TIER3 },
      google: { ...Presets.GOOGLE_FREE },
      my_api: { ...Presets.MODERATE },
      mistral: { ...Presets.MISTRAL_STANDARD },
    });
  });

  it('explicit numbers alone, or overriding the preset', () => {
    expect(
      limiterOptionsFromEnv({
        THROTTLEFLOW_OPENAI: 'tier2',
        THROTTLEFLOW_OPENAI_MAX_PER_MINUTE: '450',
        THROTTLEFLOW_OPENAI_MAX_TOKENS_PER_MINUTE: ' 2000000 ',
        THROTTLEFLOW_LOCAL_MAX_CONCURRENT: '3',
        THROTTLEFLOW_LOCAL_MAX_PER_DAY: '10000',
        THROTTLEFLOW_LOCAL_MAX_QUEUED: '+50',
      }),
    ).toEqual({
      openai: { maxConcurrent: 10, maxPerMinute: 450, maxTokensPerMinute: 2_000_000, pacingMs: 1000 },
      local: { maxConcurrent: 3, maxPerDay: 10_000, maxQueued: 50 },
    });
  });

  it('ignores empty variables and other prefixes; a custom prefix works', () => {
    expect(
      limiterOptionsFromEnv({ THROTTLEFLOW_OPENAI: '', THROTTLE_OPENAI: 'tier1', HOME: '/root' }),
    ).toEqual({});
    expect(
      limiterOptionsFromEnv(
        { APP_LIMIT_OPENAI: 'tier1', THROTTLEFLOW_OPENAI: 'tier5' },
        { prefix: 'APP_LIMIT_' },
      ),
    ).toEqual({
      openai: { ...Presets.OPENAI_TIER1 },
    });
  });

  it.each([
    [
      'THROTTLEFLOW_OPENAI_MAX_PER_MINUTE',
      'abc',
      "THROTTLEFLOW_OPENAI_MAX_PER_MINUTE must be a positive integer, got 'abc'",
    ],
    [
      'THROTTLEFLOW_OPENAI_MAX_PER_MINUTE',
      '0',
      "THROTTLEFLOW_OPENAI_MAX_PER_MINUTE must be a positive integer, got '0'",
    ],
    [
      'THROTTLEFLOW_OPENAI_MAX_CONCURRENT',
      '-3',
      "THROTTLEFLOW_OPENAI_MAX_CONCURRENT must be a positive integer, got '-3'",
    ],
    [
      'THROTTLEFLOW_OPENAI_MAX_CONCURRENT',
      '2.5',
      "THROTTLEFLOW_OPENAI_MAX_CONCURRENT must be a positive integer, got '2.5'",
    ],
    [
      'THROTTLEFLOW_OPENAI_MAX_TOKENS_PER_MINUTE',
      '1e6',
      "THROTTLEFLOW_OPENAI_MAX_TOKENS_PER_MINUTE must be a positive integer, got '1e6'",
    ],
    [
      'THROTTLEFLOW_OPENAI_MAX_PER_DAY',
      '99999999999999999999',
      "THROTTLEFLOW_OPENAI_MAX_PER_DAY must be a positive integer, got '99999999999999999999'",
    ],
  ])('rejects %s=%s naming the variable and value', (variable, value, message) => {
    const error = thrown(() => limiterOptionsFromEnv({ [variable]: value }));
    expect(isInvalidOptionError(error)).toBe(true);
    expect(error.message).toBe(message);
    expect((error as { option?: string }).option).toBe(variable);
  });

  it('rejects an unknown preset, listing the provider presets and the closest name', () => {
    const error = thrown(() => limiterOptionsFromEnv({ THROTTLEFLOW_OPENAI: 'tier9' }));
    expect(isInvalidOptionError(error)).toBe(true);
    expect(error.message).toMatch(
      /^THROTTLEFLOW_OPENAI must be a preset name, got 'tier9' \(did you mean '\w+'\?\); openai presets: free, tier1, tier2, tier3, tier4, tier5$/,
    );
    const other = thrown(() => limiterOptionsFromEnv({ THROTTLEFLOW_MY_API: 'fast' }));
    expect(other.message).toMatch(
      /^THROTTLEFLOW_MY_API must be a preset name, got 'fast'.*; presets: openai_free, /,
    );
  });

  it('rejects a misspelt setting instead of reading it as a limiter name', () => {
    const error = thrown(() => limiterOptionsFromEnv({ THROTTLEFLOW_OPENAI_MAX_PER_MINUTES: '500' }));
    expect(error.message).toMatch(
      /^THROTTLEFLOW_OPENAI_MAX_PER_MINUTES: unknown setting MAX_PER_MINUTES \(did you mean 'MAX_PER_MINUTE'\?\)/,
    );
    expect((error as { option?: string }).option).toBe('THROTTLEFLOW_OPENAI_MAX_PER_MINUTES');
  });

  it('rejects a name that is not one', () => {
    expect(() => limiterOptionsFromEnv({ 'THROTTLEFLOW_OPEN-AI': 'tier1' })).toThrow(
      /THROTTLEFLOW_OPEN-AI: 'OPEN-AI' is not a limiter name/,
    );
  });
});

describe('LimiterRegistry.fromEnv', () => {
  afterEach(() => LimiterRegistry.clear());

  it('registers a limiter per configured name and returns them', () => {
    const registry = new LimiterRegistry();
    const { openai, my_api } = registry.fromEnv({
      THROTTLEFLOW_OPENAI: 'tier2',
      THROTTLEFLOW_MY_API_MAX_CONCURRENT: '4',
    });
    expect(registry.names().sort()).toEqual(['my_api', 'openai']);
    expect(registry.get('openai')).toBe(openai);
    expect(openai!.name).toBe('openai');
    expect(openai!.stats().maxConcurrent).toBe(10);
    // The OpenAI presets pace over 1 s (pacingMs): 500 a minute is at most 9 in any second.
    expect(openai!.windows.map((w) => [w.resource, w.limit, w.configuredWindowMs])).toEqual([
      ['requests', 500, 60_000],
      ['requests', 9, 1000],
    ]);
    expect(my_api!.stats().maxConcurrent).toBe(4);
  });

  it('the environment replaces limiters registered in code, unless replace: false', () => {
    const registry = new LimiterRegistry();
    const coded = registry.register('openai', Presets.OPENAI_TIER1);
    registry.fromEnv({ THROTTLEFLOW_OPENAI: 'tier3' });
    expect(registry.get('openai')).not.toBe(coded);
    expect(registry.get('openai').stats().maxConcurrent).toBe(15);
    expect(() => registry.fromEnv({ THROTTLEFLOW_OPENAI: 'tier1' }, { replace: false })).toThrow(
      "LimiterRegistry.fromEnv: 'openai' already registered; pass { replace: true } to let the environment replace them",
    );
  });

  it('validates everything before registering anything', () => {
    const registry = new LimiterRegistry();
    expect(() =>
      registry.fromEnv({ THROTTLEFLOW_OPENAI: 'tier2', THROTTLEFLOW_ANTHROPIC_MAX_PER_MINUTE: 'abc' }),
    ).toThrow("THROTTLEFLOW_ANTHROPIC_MAX_PER_MINUTE must be a positive integer, got 'abc'");
    expect(registry.names()).toEqual([]);
  });

  it('static: the default registry, reading globalThis.process.env by default', () => {
    const saved = { ...process.env };
    try {
      process.env.THROTTLEFLOW_ENVTEST = 'aggressive';
      process.env.THROTTLEFLOW_ENVTEST_MAX_PER_MINUTE = '123';
      const limiters = LimiterRegistry.fromEnv();
      expect(Object.keys(limiters)).toContain('envtest');
      expect(LimiterRegistry.get('envtest').windows[0]!.limit).toBe(123);
      expect(LimiterRegistry.get('envtest').stats().maxConcurrent).toBe(10);
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    }
  });

  it('registered limiters report latency percentiles', () => {
    const { api } = new LimiterRegistry().fromEnv({ THROTTLEFLOW_API: 'moderate' });
    expect(api!.stats().latency).toEqual({ p50: 0, p95: 0, p99: 0 });
  });
});
