import { z } from 'zod';
import { opt } from '../validation/options';

/** `backoffFactor`: strictly between 0 and 1. */
export const backoffFactorSchema = () =>
  z
    .number({ error: 'a number between 0 and 1 (exclusive)' })
    .gt(0, { error: 'a number between 0 and 1 (exclusive)' })
    .lt(1, { error: 'a number between 0 and 1 (exclusive)' });
/** `recoveryFactor`: greater than 1. */
export const recoveryFactorSchema = () =>
  z.number({ error: 'a number greater than 1' }).gt(1, { error: 'a number greater than 1' });

/** AIMD settings of an adaptive node (validated at construction; the Aimd checks min ≤ initial ≤ max). */
export const aimdNodeSchema = z.strictObject({
  initialConcurrent: opt.positiveInt().optional(),
  minConcurrent: opt.positiveInt().optional(),
  maxConcurrent: opt.positiveInt().optional(),
  backoffFactor: backoffFactorSchema().optional(),
  recoveryThreshold: opt.positiveInt().optional(),
  recoveryFactor: recoveryFactorSchema().optional(),
  propagateRateLimit: opt.boolean().optional(),
});
