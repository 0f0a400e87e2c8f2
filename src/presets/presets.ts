import { presetTable } from './preset-table';

const node = <const C extends number, const M extends number | undefined>(
  maxConcurrent: C,
  maxPerMinute: M,
) =>
  (maxPerMinute === undefined ? { maxConcurrent } : { maxConcurrent, maxPerMinute }) as M extends number
    ? { maxConcurrent: C; maxPerMinute: M }
    : { maxConcurrent: C };

const ANTHROPIC_BUILD_TIER1 = node(5, 50);
const ANTHROPIC_BUILD_TIER3 = node(15, 2000);

/**
 * Node limits (`maxConcurrent`, `maxPerMinute`) for common providers and tiers. Spread one into
 * a node or limiter: `new ThrottledParallelBatchNode({ ...Presets.OPENAI_TIER1 })`.
 * Every preset is deeply frozen. Providers change their tiers: check yours and override when needed.
 * @category Presets
 */
export const Presets = presetTable('preset', {
  OPENAI_FREE: node(3, 3),
  OPENAI_TIER1: node(5, 60),
  OPENAI_TIER2: node(10, 500),
  OPENAI_TIER3: node(15, 5000),
  OPENAI_TIER4: node(20, 10000),
  OPENAI_TIER5: node(30, 30000),
  ANTHROPIC_FREE: node(2, 5),
  ANTHROPIC_BUILD_TIER1,
  ANTHROPIC_BUILD_TIER2: node(10, 1000),
  ANTHROPIC_BUILD_TIER3,
  ANTHROPIC_BUILD_TIER4: node(20, 4000),
  ANTHROPIC_STANDARD: { ...ANTHROPIC_BUILD_TIER1 },
  ANTHROPIC_SCALE: { ...ANTHROPIC_BUILD_TIER3 },
  GOOGLE_FREE: node(2, 15),
  GOOGLE_PAY_AS_YOU_GO: node(10, 1000),
  COHERE_TRIAL: node(2, 20),
  COHERE_PRODUCTION: node(10, 10000),
  HUGGINGFACE_FREE: node(1, 30),
  HUGGINGFACE_PRO: node(5, 1000),
  MISTRAL_FREE: node(2, 30),
  MISTRAL_STANDARD: node(10, 500),
  CONSERVATIVE: node(2, 20),
  MODERATE: node(5, 60),
  AGGRESSIVE: node(10, 200),
  UNLIMITED_CONCURRENT: node(50, undefined),
  SCRAPING_POLITE: node(2, 10),
  SCRAPING_MODERATE: node(5, 30),
  SCRAPING_AGGRESSIVE: node(10, 60),
});

/** A node preset: a concurrency cap and, for most, a requests-per-minute cap. @category Presets */
export type NodePreset = ReturnType<(typeof Presets)['get']>;
