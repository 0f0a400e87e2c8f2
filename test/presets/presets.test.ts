import { describe, expect, it } from 'vitest';
import { FlowPresets, InvalidOptionError, Presets } from '../../src/index';

// The numbers users rely on (DESIGN.md section 3): maxConcurrent / maxPerMinute.
const NODE_TABLE: Record<string, [number, number | undefined]> = {
  OPENAI_FREE: [3, 3],
  OPENAI_TIER1: [5, 60],
  OPENAI_TIER2: [10, 500],
  OPENAI_TIER3: [15, 5000],
  OPENAI_TIER4: [20, 10000],
  OPENAI_TIER5: [30, 30000],
  ANTHROPIC_FREE: [2, 5],
  ANTHROPIC_BUILD_TIER1: [5, 50],
  ANTHROPIC_BUILD_TIER2: [10, 1000],
  ANTHROPIC_BUILD_TIER3: [15, 2000],
  ANTHROPIC_BUILD_TIER4: [20, 4000],
  ANTHROPIC_STANDARD: [5, 50],
  ANTHROPIC_SCALE: [15, 2000],
  GOOGLE_FREE: [2, 15],
  GOOGLE_PAY_AS_YOU_GO: [10, 1000],
  COHERE_TRIAL: [2, 20],
  COHERE_PRODUCTION: [10, 10000],
  HUGGINGFACE_FREE: [1, 30],
  HUGGINGFACE_PRO: [5, 1000],
  MISTRAL_FREE: [2, 30],
  MISTRAL_STANDARD: [10, 500],
  CONSERVATIVE: [2, 20],
  MODERATE: [5, 60],
  AGGRESSIVE: [10, 200],
  UNLIMITED_CONCURRENT: [50, undefined],
  SCRAPING_POLITE: [2, 10],
  SCRAPING_MODERATE: [5, 30],
  SCRAPING_AGGRESSIVE: [10, 60],
};

const FLOW_TABLE: Record<string, [number, number | undefined]> = {
  CONSERVATIVE: [3, 30],
  MODERATE: [10, 60],
  AGGRESSIVE: [25, 200],
  HIGH_THROUGHPUT: [50, 500],
  UNLIMITED: [100, undefined],
  BATCH_PROCESSING: [10, 100],
  DATA_PIPELINE: [20, 200],
  REALTIME: [5, undefined],
  HEAVY_PROCESSING: [5, 20],
};

const ADAPTIVE_TABLE: Record<string, number[]> = {
  ADAPTIVE_CONSERVATIVE: [5, 2, 15, 0.5, 20, 1.2],
  ADAPTIVE_MODERATE: [10, 3, 30, 0.5, 15, 1.3],
  ADAPTIVE_AGGRESSIVE: [20, 5, 50, 0.6, 10, 1.4],
};

describe('Presets', () => {
  it('has exactly the documented node presets with their numbers', () => {
    expect(Presets.list().sort()).toEqual(Object.keys(NODE_TABLE).sort());
    for (const [name, [maxConcurrent, maxPerMinute]] of Object.entries(NODE_TABLE)) {
      const expected = maxPerMinute === undefined ? { maxConcurrent } : { maxConcurrent, maxPerMinute };
      // OpenAI and Anthropic enforce over shorter periods than a minute: their presets pace over 1 s.
      const paced = /^(OPENAI|ANTHROPIC)_/.test(name) ? { pacingMs: 1000 } : {};
      expect({ ...Presets.get(name) }, name).toEqual({ ...expected, ...paced });
    }
  });

  it('looks names up case-insensitively and suggests the closest name for a typo', () => {
    expect(Presets.get('openai_tier2')).toBe(Presets.OPENAI_TIER2);
    expect(() => Presets.get('openai_teir2')).toThrow(
      /Unknown preset 'openai_teir2' \(did you mean 'OPENAI_TIER2'\?\)/,
    );
    expect(() => Presets.get('nope')).toThrow(InvalidOptionError);
  });

  it('is deeply frozen: mutation throws in strict mode and nothing changes', () => {
    const preset = Presets.OPENAI_TIER1 as { maxConcurrent: number };
    expect(() => {
      preset.maxConcurrent = 99;
    }).toThrow(TypeError);
    expect(() => {
      (Presets as unknown as Record<string, unknown>).OPENAI_TIER1 = {};
    }).toThrow(TypeError);
    expect(Presets.OPENAI_TIER1.maxConcurrent).toBe(5);
  });

  it('spreads into a plain, mutable copy without get/list', () => {
    const copy = { ...Presets.OPENAI_TIER1, maxConcurrent: 7 };
    expect(copy).toEqual({ maxConcurrent: 7, maxPerMinute: 60, pacingMs: 1000 });
    expect(Object.keys(Presets)).not.toContain('get');
    expect(Object.keys(Presets)).toHaveLength(Object.keys(NODE_TABLE).length);
  });
});

describe('FlowPresets', () => {
  it('has the documented flow presets', () => {
    for (const [name, [maxConcurrentFlows, maxFlowsPerMinute]] of Object.entries(FLOW_TABLE)) {
      const expected =
        maxFlowsPerMinute === undefined ? { maxConcurrentFlows } : { maxConcurrentFlows, maxFlowsPerMinute };
      expect({ ...FlowPresets.get(name) }, name).toEqual(expected);
    }
  });

  it('has the adaptive flow presets', () => {
    for (const [name, [initial, min, max, backoff, threshold, recovery]] of Object.entries(ADAPTIVE_TABLE)) {
      expect({ ...FlowPresets.get(name) }, name).toEqual({
        initialConcurrentFlows: initial,
        minConcurrentFlows: min,
        maxConcurrentFlows: max,
        backoffFactor: backoff,
        recoveryThreshold: threshold,
        recoveryFactor: recovery,
      });
    }
    expect(FlowPresets.list()).toHaveLength(
      Object.keys(FLOW_TABLE).length + Object.keys(ADAPTIVE_TABLE).length,
    );
  });

  it('is frozen', () => {
    expect(Object.isFrozen(FlowPresets.ADAPTIVE_MODERATE)).toBe(true);
    expect(() => FlowPresets.get('MODERATO')).toThrow(/did you mean 'MODERATE'/);
  });
});
