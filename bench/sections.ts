/**
 * The bench's sections after limiter, goodput and redis (which main.ts runs itself, for their
 * charts and summary). Each one is a module of its own that prints its tables and returns what goes
 * into bench/results.json under its `name`. Add a section by appending it to {@link EXTRA_SECTIONS}.
 */

import { distributedSection } from './distributed';
import { bigBatchSection } from './big-batch';
import { routingSection } from './routing';
import { clientsSection } from './clients';
import { clientsAiSdkSection } from './clients-ai-sdk';
import { redisGoodputSection } from './redis-goodput';
import { highTierSection } from './high-tier';

/** What a section is given by main.ts. */
export interface BenchContext {
  /** BENCH_QUICK=1: a few seconds per section, noisy numbers, for development. */
  quick: boolean;
}

/** One section of `npm run bench`. */
export interface BenchSection {
  /** The name in BENCH_SECTIONS and the key in bench/results.json. */
  name: string;
  /** The heading printed before it runs. */
  title: string;
  /** Runs the section, prints its tables and returns its JSON-serialisable result. */
  run: (context: BenchContext) => Promise<unknown>;
}

/** The sections main.ts runs after redis, in this order. */
export const EXTRA_SECTIONS: BenchSection[] = [
  highTierSection,
  redisGoodputSection,
  bigBatchSection,
  routingSection,
  clientsSection,
  clientsAiSdkSection,
  distributedSection,
];
