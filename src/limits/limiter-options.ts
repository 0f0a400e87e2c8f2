import { z } from 'zod';
import type { Store, WindowSpec } from '../stores/store';
import { opt, parseOptions, InvalidOptionError } from '../validation/options';
import type { Clock } from '../util/clock';
import { isClock } from '../util/is-clock';
import { isRecord } from '../util/is-record';

/** One sliding window in the general form. @category Limiters */
export interface WindowOption {
  /**
   * What the window counts: `'requests'` (one per acquire, or its `cost`), `'tokens'` (the
   * acquire's `tokens`), or any name you pass in an acquire's `units`.
   */
  resource: string;
  /** Units allowed to start in any interval of `windowMs`. */
  limit: number;
  /** The window's length in milliseconds. */
  windowMs: number;
}

/** Options of a {@link Limiter}. Every count is a positive integer; omit a limit for none. @category Limiters */
export interface LimiterOptions {
  /**
   * Work in flight at once; resizable with `setMaxConcurrent`.
   * @default undefined (unlimited)
   */
  maxConcurrent?: number;
  /**
   * Requests started in any sliding 60 s window.
   * @default undefined (no limit)
   */
  maxPerMinute?: number;
  /**
   * Tokens (each acquire's `tokens`) started in any sliding 60 s window.
   * @default undefined (no limit)
   */
  maxTokensPerMinute?: number;
  /**
   * Requests started in any sliding 24 h window.
   * @default undefined (no limit)
   */
  maxPerDay?: number;
  /**
   * Requests started in any sliding window of `windowMs` (the general form of `maxPerMinute`).
   * @default undefined (no limit)
   */
  maxPerWindow?: number;
  /**
   * The window of `maxPerWindow`, in milliseconds.
   * @default 60000
   */
  windowMs?: number;
  /**
   * Any number of extra windows, e.g. `[{ resource: 'tokens', limit: 40_000, windowMs: 10_000 }]`.
   * @default []
   */
  windows?: WindowOption[];
  /**
   * Safety margin added to every window: how much later than we start it a request may reach the
   * provider, whose window counts it from its arrival. When a response tells when the request
   * arrived at the latest (`limiter.observe(response, { lease })` with OpenAI's
   * `openai-processing-ms`), that lease's entries count from then instead, if that is later.
   * @default 1 % of each window
   */
  windowMarginMs?: number;
  /**
   * Give an attempt's requests-window unit back as soon as it fails the way providers typically
   * do not count (an HTTP 5xx other than 504, a refused or dropped connection) and its error
   * carries no rate-limit count. Off, such a unit comes back only once a later response's
   * `remaining` header proves the provider never counted it, which a window kept full by its own
   * burst never sends. A 429 within a window of such a refund shows the provider counts its
   * failures: the limiter stops refunding them and warns (`FAILURES_COUNTED`).
   * @default true
   */
  refundFailedAttempts?: boolean;
  /**
   * Pacing for providers that enforce a limit over shorter periods than they state it: every
   * requests window longer than `pacingMs` also allows at most `ceil(limit × pacingMs / windowMs)`
   * requests in any `pacingMs` (its budget pro rata; at least 1). The long-run rate is unchanged;
   * only bursts are spread. OpenAI documents that limits "can be quantized" (60,000 requests a
   * minute enforced as 1,000 a second); Anthropic refills a bucket continuously, and a pro-rata
   * window never gets more than `pacingMs` worth of refill ahead of such a bucket. The OpenAI and
   * Anthropic presets and `Limiter.forProvider('openai' | 'anthropic')` set 1000. Token windows
   * are not paced (one request's tokens may exceed a second's share). The sub-window's safety
   * margin is the long window's margin scaled by `pacingMs / windowMs`, at least 3 % of `pacingMs`
   * (0 with `windowMarginMs: 0`). A share of 10 or more is also spread over tenths of `pacingMs`
   * (at most `ceil(share / 10)` in any 90 % of a tenth), so a burst that reaches the provider
   * late overlaps the next by a tenth of a share, not a whole one. A request that finds no
   * connection open counts in the sub-window from a tenth of it (less its margin) after its start:
   * new connections reach the provider late.
   * `0` turns pacing off (e.g. over a preset's).
   * @default undefined (no pacing: a window's whole budget may start at once)
   */
  pacingMs?: number;
  /**
   * How `lease.release({ tokens })` reconciles a token estimate with real usage: `'up'` charges
   * the difference when usage was higher and never refunds (OpenAI charges `max_tokens` up front
   * and keeps it); `'both'` also refunds when usage was lower.
   * @default 'up'
   */
  reconcile?: 'up' | 'both';
  /**
   * Adopt the provider's limits from response headers in both directions (a lower provider limit
   * always lowers ours). Set by `Limiter.forProvider`.
   * @default false
   */
  learnLimits?: boolean;
  /**
   * Time source.
   * @default systemClock
   */
  clock?: Clock;
  /**
   * Where the limiter keeps its state; a shared store (e.g. `RedisStore`) makes limiters with the
   * same `name` share one budget across processes.
   * @default new MemoryStore()
   */
  store?: Store;
  /**
   * Names the limiter in errors, events and shared stores.
   * @default 'limiter'
   */
  name?: string;
  /**
   * Most acquires allowed to wait at once; one more is refused at once with `QueueFullError`
   * (back-pressure instead of an unbounded queue).
   * @default undefined (no bound)
   */
  maxQueued?: number;
  /**
   * Print the limiter's run-time warnings with `console.warn` (each at most once per limiter: a
   * token window nothing is charged to, no response headers ever observed, a 429 while its windows
   * had room). `false` prints nothing; the `warning` event fires either way. On a throttled node:
   * for the limiters the node makes (a shared `limiter` keeps its own setting).
   * @default true
   */
  warnings?: boolean;
}

const isStore = (v: unknown): v is Store => isRecord(v) && typeof v.bind === 'function';

const windowSchema = z.strictObject({
  resource: z.string({ error: 'a non-empty string' }).min(1, { error: 'a non-empty string' }),
  limit: opt.positiveInt(),
  windowMs: opt.positiveNumber(),
});

const limiterSchema = z.strictObject({
  maxConcurrent: opt.positiveInt().optional(),
  maxPerMinute: opt.positiveInt().optional(),
  maxTokensPerMinute: opt.positiveInt().optional(),
  maxPerDay: opt.positiveInt().optional(),
  maxPerWindow: opt.positiveInt().optional(),
  windowMs: opt.positiveNumber().optional(),
  windows: z.array(windowSchema, { error: 'an array of { resource, limit, windowMs }' }).optional(),
  windowMarginMs: opt.nonNegativeNumber().optional(),
  refundFailedAttempts: opt.boolean().optional(),
  pacingMs: opt.nonNegativeNumber().optional(),
  reconcile: opt.oneOf(['up', 'both']).optional(),
  learnLimits: opt.boolean().optional(),
  clock: opt.instance(isClock, 'a Clock ({ now(), sleep(ms, signal) })').optional(),
  store: opt.instance(isStore, 'a Store (with bind(name, windows))').optional(),
  name: z.string({ error: 'a string' }).optional(),
  maxQueued: opt.positiveInt().optional(),
  warnings: opt.boolean().optional(),
});

const MINUTE_MS = 60_000;
/** The least safety margin of a pacing sub-window, as a fraction of it. */
const PACING_MARGIN_FRACTION = 0.03;
/** A pacing share of at least this many is also spread over tenths of the sub-window. */
const SMOOTHING_MIN_SHARE = 10;
const SMOOTHING_PARTS = 10;
/** How long a smoothing tenth lasts, as a fraction of a tenth of `pacingMs` (see resolveWindows). */
const SMOOTHING_TENTH_FRACTION = 0.9;
const DAY_MS = 24 * 60 * MINUTE_MS;

/** A window as configured (before the margin) and as enforced (after it). @category Limiters */
export interface ResolvedWindow extends WindowSpec {
  configuredWindowMs: number;
  /** For a pacing window (see `pacingMs`): the index of the window whose budget it spreads. */
  pacedFrom?: number;
  /** For a tenth of a pacing window: it spreads our own dispatch; no provider enforces it. */
  smoothing?: true;
}

/** A pacing window's limit: the parent's budget pro rata over `pacingMs`, at least 1. */
export function pacedLimit(parentLimit: number, parentWindowMs: number, pacingMs: number): number {
  return Math.max(1, Math.ceil((parentLimit * pacingMs) / parentWindowMs - 1e-9));
}

/** Validates limiter options; throws an InvalidOptionError naming the option and value. */
export function validateLimiterOptions(options: unknown, subject = 'Limiter'): LimiterOptions {
  const parsed: LimiterOptions = parseOptions(limiterSchema, options, subject);
  if (parsed.windowMs !== undefined && parsed.maxPerWindow === undefined) {
    throw new InvalidOptionError(
      'windowMs',
      `windowMs needs maxPerWindow (requests per window), got windowMs ${parsed.windowMs} alone`,
    );
  }
  return parsed;
}

/** The windows the options describe, each widened by its safety margin. */
export function resolveWindows(options: LimiterOptions): ResolvedWindow[] {
  const configured: WindowOption[] = [];
  if (options.maxPerMinute !== undefined)
    configured.push({ resource: 'requests', limit: options.maxPerMinute, windowMs: MINUTE_MS });
  if (options.maxPerWindow !== undefined) {
    configured.push({
      resource: 'requests',
      limit: options.maxPerWindow,
      windowMs: options.windowMs ?? MINUTE_MS,
    });
  }
  if (options.maxTokensPerMinute !== undefined) {
    configured.push({ resource: 'tokens', limit: options.maxTokensPerMinute, windowMs: MINUTE_MS });
  }
  if (options.maxPerDay !== undefined)
    configured.push({ resource: 'requests', limit: options.maxPerDay, windowMs: DAY_MS });
  configured.push(...(options.windows ?? []));
  const resolved: ResolvedWindow[] = [];
  for (const w of configured) {
    const windowMs = w.windowMs + (options.windowMarginMs ?? w.windowMs * 0.01);
    // Two limits on one resource and window (e.g. maxPerMinute and windows: [{ requests, 60 s }])
    // are one window with the smaller limit; a store keeps one log per resource and window.
    const same = resolved.find((r) => r.resource === w.resource && r.windowMs === windowMs);
    if (same) same.limit = Math.min(same.limit, w.limit);
    else resolved.push({ resource: w.resource, limit: w.limit, configuredWindowMs: w.windowMs, windowMs });
  }
  const pacingMs = options.pacingMs;
  if (pacingMs === undefined || pacingMs === 0) return resolved;
  const parents = resolved.length;
  for (let i = 0; i < parents; i++) {
    const parent = resolved[i]!;
    if (parent.resource !== 'requests' || parent.configuredWindowMs <= pacingMs) continue;
    const limit = pacedLimit(parent.limit, parent.configuredWindowMs, pacingMs);
    // The parent's margin scaled down, but never under PACING_MARGIN_FRACTION: what spreads
    // arrivals at the provider (dispatch, the network) does not shrink with the window.
    const scaledMarginMs =
      ((parent.windowMs - parent.configuredWindowMs) * pacingMs) / parent.configuredWindowMs;
    const marginMs =
      options.windowMarginMs === 0 ? 0 : Math.max(scaledMarginMs, pacingMs * PACING_MARGIN_FRACTION);
    const windowMs = pacingMs + marginMs;
    const same = resolved.find((r) => r.resource === 'requests' && r.windowMs === windowMs);
    if (same) {
      // Two parents paced to one sub-window (or a configured one of that length): the smaller share.
      if (limit < same.limit) {
        same.limit = limit;
        if (same.pacedFrom !== undefined) same.pacedFrom = i;
      }
    } else {
      resolved.push({ resource: 'requests', limit, configuredWindowMs: pacingMs, windowMs, pacedFrom: i });
    }
    // A large share is also spread inside the sub-window, in tenths: a burst that reaches the
    // provider late (a stalled event loop, fresh connections) then overlaps the next by a tenth of
    // a share, not a whole one, and each tenth is few enough requests to reach the wire within the
    // margin even from a busy event loop. Small shares are left whole. No provider enforces a
    // tenth (no margin), and it is a little shorter than one (SMOOTHING_TENTH_FRACTION): each
    // waits on a timer that fires a millisecond or so late, and tenths as long as the sub-window's
    // would carry that lateness into the next sub-window, 2 % of the rate at 50 ms; shorter, the
    // sub-window sets the pace and its own lateness is one timer's per sub-window.
    if (limit >= SMOOTHING_MIN_SHARE) {
      const fineMs = pacingMs / SMOOTHING_PARTS;
      const fineWindowMs = fineMs * SMOOTHING_TENTH_FRACTION;
      if (!resolved.some((r) => r.resource === 'requests' && r.windowMs === fineWindowMs)) {
        resolved.push({
          resource: 'requests',
          limit: Math.ceil(limit / SMOOTHING_PARTS),
          configuredWindowMs: fineWindowMs,
          windowMs: fineWindowMs,
          pacedFrom: i,
          smoothing: true,
        });
      }
    }
  }
  return resolved;
}
