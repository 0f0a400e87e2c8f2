const UNIT_MS: Readonly<Record<string, number>> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 0.001,
  'µs': 0.001,
  'μs': 0.001,
  ns: 0.000_001,
};

// One "<number><unit>" term of a Go-style duration, as OpenAI prints its resets: `6m0s`, `12ms`.
const TERM = /(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|μs|ns)/y;
const BARE_SECONDS = /^(\d+(?:\.\d*)?|\.\d+)$/;

/**
 * Parses a duration as OpenAI's `x-ratelimit-reset-*` headers write it (Go's `time.Duration`
 * format: `6m0s`, `1s`, `12ms`, `1h2m3.5s`, `0.5s`) into milliseconds. A bare number is read as
 * seconds. Returns `undefined` for anything else (negative, empty, unknown unit); never throws.
 */
export function parseDuration(text: unknown): number | undefined {
  if (typeof text === 'number') return text >= 0 ? finite(text * 1000) : undefined;
  if (typeof text !== 'string') return undefined;
  const input = text.trim();
  if (!input) return undefined;
  const bare = BARE_SECONDS.exec(input);
  if (bare) return finite(roundMs(Number(bare[1]) * 1000));

  let totalMs = 0;
  TERM.lastIndex = 0;
  while (TERM.lastIndex < input.length) {
    const match = TERM.exec(input);
    if (!match) return undefined;
    totalMs += Number(match[1]) * UNIT_MS[match[2]!]!;
  }
  return finite(roundMs(totalMs));
}

// Summing decimal fractions in binary floating point leaves dust (1.001 s → 1000.9999999 ms);
// nanoseconds are the format's own resolution, so round there.
function roundMs(ms: number): number {
  const rounded = Math.round(ms * 1e6) / 1e6;
  return Number.isFinite(rounded) ? rounded : ms;
}

function finite(ms: number): number | undefined {
  return Number.isFinite(ms) ? ms : undefined;
}
