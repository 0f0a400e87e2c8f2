// Internal formatting for error messages. No Intl: some edge runtimes ship it trimmed.

/** `1234567.5` → `1,234,567.5`. */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const [whole, fraction] = String(Math.round(n * 100) / 100).split('.');
  const grouped = whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}

/** Dollars to four decimals (`$0.0093`); amounts under a hundredth of a cent keep two significant digits. */
export function formatUsd(usd: number): string {
  if (!Number.isFinite(usd)) return `$${usd}`;
  const abs = Math.abs(usd);
  const text = abs !== 0 && abs < 0.0001 ? abs.toPrecision(2) : abs.toFixed(4);
  return `${usd < 0 ? '-' : ''}$${text}`;
}
