/**
 * Formats milliseconds the way OpenAI's `x-ratelimit-reset-*` headers do (Go's
 * `time.Duration.String`): `0s`, `12ms`, `1s`, `6m0s`, `1h2m3.5s`. The inverse of
 * `parseDuration` for non-negative whole milliseconds.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '0s';
  if (ms < 1000) return `${trimNumber(ms)}ms`;
  const wholeMs = Math.round(ms);
  const hours = Math.floor(wholeMs / 3_600_000);
  const minutes = Math.floor((wholeMs % 3_600_000) / 60_000);
  const secondsMs = wholeMs % 60_000;
  // Seconds with up to three decimals, written from integers so no float dust appears.
  const fraction = String(secondsMs % 1000)
    .padStart(3, '0')
    .replace(/0+$/, '');
  const seconds = `${Math.floor(secondsMs / 1000)}${fraction ? `.${fraction}` : ''}s`;
  if (hours > 0) return `${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${minutes}m${seconds}`;
  return seconds;
}

function trimNumber(value: number): string {
  return String(Math.round(value * 1000) / 1000);
}
