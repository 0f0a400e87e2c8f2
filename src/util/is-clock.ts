import type { Clock } from './clock';

/** Whether `value` looks like a {@link Clock}: for validating injected clocks in options. */
export function isClock(value: unknown): value is Clock {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Clock).now === 'function' &&
    typeof (value as Clock).sleep === 'function'
  );
}
