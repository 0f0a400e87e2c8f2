import type { Clock } from './clock';
import { isRecord } from './is-record';

/** Whether `value` looks like a {@link Clock}: for validating injected clocks in options. */
export function isClock(value: unknown): value is Clock {
  return isRecord(value) && typeof value.now === 'function' && typeof value.sleep === 'function';
}
