import { presetTable } from './preset-table';

const node = <const C extends number, const M extends number | undefined>(
  maxConcurrent: C,
  maxPerMinute: M,
) =>
  (maxPerMinute === undefined ? { maxConcurrent } : { maxConcurrent, maxPerMinute }) as M extends number
    ? { maxConcurrent: C; maxPerMinute: M }
    : { maxConcurrent: C };

/**
 * Pacing of the OpenAI and Anthropic presets (`pacingMs`): OpenAI documents that limits "can be
 * quantized" (60,000 requests a minute enforced as 1,000 a second); Anthropic refills a bucket
 * continuously, and a budget spread pro rata over 1 s never runs more than 1 s of refill ahead of it.
 */
const PACING_MS = 1000;

/** A provider preset that spreads each minute's budget pro rata over 1 s. */
const paced = <const C extends number, const M extends number>(maxConcurrent: C, maxPerMinute: M) => ({
  maxConcurrent,
  maxPerMinute,
  pacingMs: PACING_MS,
});

const ANTHROPIC_BUILD_TIER1 = paced(5, 50);
const ANTHROPIC_BUILD_TIER3 = paced(15, 2000);

/**
 * Node limits (`maxConcurrent`, `maxPerMinute`, and for OpenAI and Anthropic `pacingMs: 1000`,
 * as they enforce limits over shorter periods) for common providers and tiers. Spread one into
 * a node or limiter: `new ThrottledParallelBatchNode({ ...Presets.OPENAI_TIER1 })`.
 * Every preset is deeply frozen. Providers change their tiers: check yours and override when needed.
 * @category Presets
 */
export const Presets = presetTable('preset', {
  OPENAI_FREE: paced(3, 3),
  OPENAI_TIER1: paced(5, 60),
  OPENAI_TIER2: paced(10, 500),
  OPENAI_TIER3: paced(15, 5000),
  OPENAI_TIER4: paced(20, 10000),
  OPENAI_TIER5: paced(30, 30000),
  ANTHROPIC_FREE: paced(2, 5),
  ANTHROPIC_BUILD_TIER1,
  ANTHROPIC_BUILD_TIER2: paced(10, 1000),
  ANTHROPIC_BUILD_TIER3,
  ANTHROPIC_BUILD_TIER4: paced(20, 4000),
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

/**
 * A node preset: a concurrency cap and, for most, a requests-per-minute cap; the OpenAI and
 * Anthropic ones also pace (`pacingMs: 1000`). @category Presets
 */
export type NodePreset = ReturnType<(typeof Presets)['get']>;
