/**
 * The rule for tests that need a real service (Redis, the Redis Cluster): when it does not answer,
 * the suite is skipped with a visible warning, except under CI (`process.env.CI`), where a missing
 * service must fail loudly instead of turning into a silent green run.
 */
import { describe } from 'vitest';

/** What to say when the service does not answer. */
export interface ServiceGateMessages {
  /** Thrown under CI. */
  readonly ciError: string;
  /** Printed with `console.warn` before the suite is skipped. */
  readonly skipWarning: string;
}

/**
 * Applies the rule to the outcome of a probe: returns `describe` when the service answered,
 * `describe.skip` after a warning when it did not, and throws when it did not and CI is set.
 */
export function describeIfAvailable(available: boolean, messages: ServiceGateMessages): typeof describe {
  if (!available) {
    if (process.env.CI) throw new Error(messages.ciError);
    console.warn(messages.skipWarning);
  }
  return available ? describe : (describe.skip as typeof describe);
}
