import { withoutUndefined } from '../util/without-undefined';
import { z } from 'zod';
import { isRecord } from '../util/is-record';
import { formatValue, InvalidOptionError, opt, parseOptions } from '../validation/options';

/** Options of the provider simulator (`startProviderSimulator`, `spawnProviderSimulator`). */
export interface ProviderSimulatorOptions {
  /**
   * Requests allowed per window; omit for no request limit.
   * @default undefined (unlimited)
   */
  requestsPerWindow?: number;
  /**
   * Tokens allowed per window; omit for no token limit. A request costs its estimated prompt
   * tokens (characters of all message contents / 4, rounded up) plus `max_tokens × n`, charged
   * in full when it is admitted, as OpenAI does.
   * @default undefined (unlimited)
   */
  tokensPerWindow?: number;
  /**
   * The provider's window in milliseconds.
   * @default 60_000
   */
  windowMs?: number;
  /**
   * Quantized enforcement, as OpenAI documents it ("60,000 requests/minute may be enforced as
   * 1,000 requests/second"): besides `requestsPerWindow` per `windowMs`, at most
   * `ceil(requestsPerWindow × quantumMs / windowMs)` requests start in any sliding `quantumMs`.
   * The headers report the long window. Omit for none.
   * @default undefined (no sub-window)
   */
  quantumMs?: number;
  /**
   * Whether successful OpenAI-dialect replies carry `openai-processing-ms` (Anthropic, Gemini,
   * Azure and most gateways send no such header).
   * @default true
   */
  processingMsHeader?: boolean;
  /**
   * `'sliding'`: at most the limit starts in any window of `windowMs`. `'bucket'`: a token bucket
   * holding at most the limit (the burst), refilled continuously at limit per `windowMs`.
   * @default 'sliding'
   */
  mode?: 'sliding' | 'bucket';
  /**
   * Whether a rejected (429) request still spends one unit of request capacity, as OpenAI
   * documents ("unsuccessful requests contribute to your per-minute limit"), so retry storms
   * lock a client out.
   * @default false
   */
  countRejected?: boolean;
  /**
   * Base latency of an admitted request, in milliseconds (a 429 or 529 answers at once).
   * @default 0
   */
  latencyMs?: number;
  /**
   * Uniform jitter around `latencyMs`: each latency is drawn from `latencyMs ± jitterMs`
   * (never below 0).
   * @default 0
   */
  jitterMs?: number;
  /**
   * Probability that a request fails with HTTP 500 (after its latency).
   * @default 0
   */
  p500?: number;
  /**
   * Probability that a request fails at once with HTTP 529 overloaded.
   * @default 0
   */
  p529?: number;
  /**
   * Probability that the connection is reset (socket destroyed, after the latency).
   * @default 0
   */
  pReset?: number;
  /**
   * Seed for the fault and latency draws, so a run repeats exactly; omit for `Math.random`.
   * @default undefined
   */
  seed?: number;
  /**
   * Output tokens reported in `usage` per request; never more than the request's `max_tokens`.
   * @default min(max_tokens, 100)
   */
  completionTokens?: number;
  /**
   * An outage of the key: from `fromMs` until `toMs` after the simulator started (or was last
   * reset) every request is answered 429, with a retry-after of `retryAfterMs` (by default the
   * time left until the outage ends). With `countRejected` each still spends request capacity.
   * @default undefined (no outage)
   */
  outage?: SimulatedOutage;
}

/** See {@link ProviderSimulatorOptions.outage}. */
export interface SimulatedOutage {
  /** When it starts, in ms after the simulator started or was reset. */
  fromMs: number;
  /** When it ends (exclusive), in ms after the simulator started or was reset. */
  toMs: number;
  /**
   * The retry-after of its 429s, in milliseconds.
   * @default the time left until `toMs`
   */
  retryAfterMs?: number;
}

/** {@link ProviderSimulatorOptions} with defaults filled in. */
export type ResolvedSimulatorOptions = Required<
  Omit<
    ProviderSimulatorOptions,
    'requestsPerWindow' | 'tokensPerWindow' | 'seed' | 'completionTokens' | 'outage' | 'quantumMs'
  >
> &
  Pick<
    ProviderSimulatorOptions,
    'requestsPerWindow' | 'tokensPerWindow' | 'seed' | 'completionTokens' | 'outage' | 'quantumMs'
  >;

const optionShape = {
  requestsPerWindow: opt.positiveInt().optional(),
  tokensPerWindow: opt.positiveInt().optional(),
  windowMs: opt.positiveNumber().optional(),
  quantumMs: opt.positiveNumber().optional(),
  processingMsHeader: opt.boolean().optional(),
  mode: opt.oneOf(['sliding', 'bucket'] as const).optional(),
  countRejected: opt.boolean().optional(),
  latencyMs: opt.nonNegativeNumber().optional(),
  jitterMs: opt.nonNegativeNumber().optional(),
  p500: opt.fraction().optional(),
  p529: opt.fraction().optional(),
  pReset: opt.fraction().optional(),
  seed: opt.nonNegativeInt().optional(),
  completionTokens: opt.nonNegativeInt().optional(),
  outage: z
    .strictObject({
      fromMs: opt.nonNegativeNumber(),
      toMs: opt.nonNegativeNumber(),
      retryAfterMs: opt.positiveNumber().optional(),
    })
    .optional(),
};

const optionsSchema = z.strictObject(optionShape);

/** The default for every option that has one. */
export const SIMULATOR_DEFAULTS = {
  windowMs: 60_000,
  processingMsHeader: true,
  mode: 'sliding',
  countRejected: false,
  latencyMs: 0,
  jitterMs: 0,
  p500: 0,
  p529: 0,
  pReset: 0,
} as const satisfies Partial<ResolvedSimulatorOptions>;

/** Validates options (throws `InvalidOptionError`) and fills in defaults. */
export function resolveSimulatorOptions(input: unknown): ResolvedSimulatorOptions {
  const parsed = parseOptions(optionsSchema, input, 'ProviderSimulator');
  return { ...SIMULATOR_DEFAULTS, ...withoutUndefined(parsed) };
}

/**
 * Applies a partial update. A key given as `undefined` (or `null` over JSON) clears an optional
 * option, e.g. `{ tokensPerWindow: undefined }` removes the token limit.
 */
export function mergeSimulatorOptions(
  current: ResolvedSimulatorOptions,
  update: unknown,
): ResolvedSimulatorOptions {
  const cleared = new Set<string>();
  const present: Record<string, unknown> = {};
  // Nothing to change is fine (as parseOptions treats it); anything else must be an options object.
  if (update !== undefined && update !== null && !isRecord(update)) {
    throw new InvalidOptionError(
      '',
      `ProviderSimulator options must be an object, got ${formatValue(update)}`,
    );
  }
  for (const [key, value] of Object.entries(update ?? {})) {
    if (value === undefined || value === null) cleared.add(key);
    else present[key] = value;
  }
  const parsed = parseOptions(optionsSchema, present, 'ProviderSimulator');
  const next: Record<string, unknown> = { ...current, ...withoutUndefined(parsed) };
  for (const key of cleared) {
    if (!(key in optionShape)) parseOptions(optionsSchema, { [key]: 0 }, 'ProviderSimulator'); // names the unknown key
    next[key] = (SIMULATOR_DEFAULTS as Record<string, unknown>)[key];
  }
  return next as ResolvedSimulatorOptions;
}
