import { z } from 'zod';
import { opt, parseOptions } from '../validation/options';
import type { BreakerPolicy } from './breaker-policy';

const schema = z.strictObject({ consecutiveFailures: opt.positiveInt() });

/** Opens the circuit after `consecutiveFailures` failures in a row; any success starts the count over. */
export class ConsecutivePolicy implements BreakerPolicy {
  /** Failures in a row that open the circuit. */
  readonly consecutiveFailures: number;
  private failures = 0;

  constructor(consecutiveFailures: number) {
    this.consecutiveFailures = parseOptions(
      schema,
      { consecutiveFailures },
      'ConsecutivePolicy',
    ).consecutiveFailures;
  }

  recordSuccess(): void {
    this.failures = 0;
  }

  recordFailure(): boolean {
    this.failures++;
    return this.failures >= this.consecutiveFailures;
  }

  reset(): void {
    this.failures = 0;
  }
}
