/**
 * How the demo writes numbers for people: rounded, with units, and never `NaN`, `Infinity` or
 * `undefined` (a value that is not known yet prints as `…`).
 */

/** Shown for a value that is not known (yet). */
export const UNKNOWN = '…';

/** Milliseconds as seconds with one decimal: 16461 → `16.5 s`. */
export function seconds(ms: number): string {
  return Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : UNKNOWN;
}

/** A configured duration without padding zeros: 5000 → `5 s`, 1500 → `1.5 s`. */
export function windowText(ms: number): string {
  return Number.isFinite(ms) ? `${Number((ms / 1000).toFixed(3))} s` : UNKNOWN;
}

/** US dollars: cents from $1 up, else 4 significant digits ($0.004797), so small costs do not all read $0.00. */
export function usd(amount: number): string {
  if (!Number.isFinite(amount)) return UNKNOWN;
  if (amount === 0) return '$0';
  if (Math.abs(amount) >= 1) return `$${amount.toFixed(2)}`;
  // toPrecision would switch to exponent notation below 1e-6; toFixed with the digits it needs does not.
  const digits = Math.min(20, 3 - Math.floor(Math.log10(Math.abs(amount))));
  return `$${amount.toFixed(digits)}`;
}

/** A fraction as a whole percentage: 0.968 → `97%`. */
export function percent(fraction: number): string {
  return Number.isFinite(fraction) ? `${Math.round(fraction * 100)}%` : UNKNOWN;
}

/** A count with thousands separators: 47786 → `47,786`. */
export function count(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : UNKNOWN;
}

/** Time left: whole seconds under a minute, then `m:ss`; `…` when unknown. */
export function timeLeft(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return UNKNOWN;
  const s = Math.ceil(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
