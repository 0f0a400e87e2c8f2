import type { CapacityLimit } from './capacity-limit';
import { mergeSimulatorOptions, type ResolvedSimulatorOptions } from './provider-simulator-options';
import type { ProviderSimulatorLog, ProviderSimulatorStats } from './provider-simulator-types';
import { createRandom, type RandomSource } from './seeded-random';
import { SlidingWindowLimit } from './sliding-window-limit';
import { TokenBucketLimit } from './token-bucket-limit';
import { maxInAnyWindow } from './window-max';

/** One limit's state as the rate-limit headers report it. */
export interface BudgetSnapshot {
  limit: number;
  remaining: number;
  resetMs: number;
}

/** Both limits' state, for the response headers (absent when that limit is off). */
export interface BudgetsSnapshot {
  requests?: BudgetSnapshot;
  tokens?: BudgetSnapshot;
}

/** The verdict on one request. */
export type Admission =
  | { ok: true; budgets: BudgetsSnapshot }
  | {
      ok: false;
      /** Exact time until the request would fit (`Infinity` when it never can). */
      retryAfterMs: number;
      /** The limit that refused it. */
      scope: 'requests' | 'tokens';
      budgets: BudgetsSnapshot;
    };

/** Which injected fault a request suffers. */
export type FaultKind = 'p500' | 'p529' | 'reset';

type Limit = SlidingWindowLimit | TokenBucketLimit;

/**
 * The simulated provider's bookkeeping, free of HTTP: admission against the request and token
 * limits, fault draws, and statistics. `nowMs` is injectable for tests.
 */
export class SimulatorState {
  private opts: ResolvedSimulatorOptions;
  private requestLimit: Limit | undefined;
  private tokenLimit: Limit | undefined;
  /** The quantized sub-window (`quantumMs`), when set. */
  private quantumLimit: SlidingWindowLimit | undefined;
  private startMs: number;
  private random: RandomSource;
  private accepted: number[] = [];
  private acceptedTokens: number[] = [];
  private rejected: number[] = [];
  private faults = { p500: 0, p529: 0, reset: 0 };
  private inFlight = 0;
  private maxInFlight = 0;
  private tokens = 0;

  constructor(
    options: ResolvedSimulatorOptions,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    this.opts = options;
    this.startMs = nowMs();
    this.random = createRandom(options.seed);
    this.buildLimits(undefined);
  }

  get options(): ResolvedSimulatorOptions {
    return this.opts;
  }

  /**
   * Draws the fault (if any) for the next request, then its latency: always two draws in this
   * order, so a seeded run repeats exactly.
   */
  drawFaultAndLatency(): { fault: FaultKind | undefined; latencyMs: number } {
    const { p500, p529, pReset, latencyMs, jitterMs } = this.opts;
    const roll = this.random();
    const jitter = this.random();
    const fault: FaultKind | undefined =
      roll < p529 ? 'p529' : roll < p529 + p500 ? 'p500' : roll < p529 + p500 + pReset ? 'reset' : undefined;
    return { fault, latencyMs: Math.max(0, latencyMs + (jitter * 2 - 1) * jitterMs) };
  }

  recordFault(kind: FaultKind): void {
    this.faults[kind]++;
  }

  /** Decides one request costing `tokens`, and records it. */
  admit(tokens: number): Admission {
    const now = this.nowMs();
    const outage = this.opts.outage;
    const sinceStartMs = now - this.startMs;
    if (outage !== undefined && sinceStartMs >= outage.fromMs && sinceStartMs < outage.toMs) {
      if (this.opts.countRejected) {
        this.requestLimit?.take(now, 1);
        this.quantumLimit?.take(now, 1);
      }
      this.rejected.push(sinceStartMs);
      const retryAfterMs = outage.retryAfterMs ?? outage.toMs - sinceStartMs;
      return { ok: false, retryAfterMs, scope: 'requests', budgets: this.budgets(now) };
    }
    const requestWaitMs = Math.max(
      this.requestLimit?.waitMs(now, 1) ?? 0,
      this.quantumLimit?.waitMs(now, 1) ?? 0,
    );
    const tokenWaitMs = this.tokenLimit?.waitMs(now, tokens) ?? 0;
    if (requestWaitMs <= 0 && tokenWaitMs <= 0) {
      this.requestLimit?.take(now, 1);
      this.quantumLimit?.take(now, 1);
      this.tokenLimit?.take(now, tokens);
      this.accepted.push(now - this.startMs);
      this.acceptedTokens.push(tokens);
      this.tokens += tokens;
      this.inFlight++;
      if (this.inFlight > this.maxInFlight) this.maxInFlight = this.inFlight;
      return { ok: true, budgets: this.budgets(now) };
    }
    const scope = requestWaitMs >= tokenWaitMs ? 'requests' : 'tokens';
    // OpenAI counts a refused request against the request limit too; the wait is then measured
    // from the state that includes it.
    if (this.opts.countRejected) {
      this.requestLimit?.take(now, 1);
      this.quantumLimit?.take(now, 1);
    }
    this.rejected.push(now - this.startMs);
    const retryAfterMs = Math.max(
      this.requestLimit?.waitMs(now, 1) ?? 0,
      this.quantumLimit?.waitMs(now, 1) ?? 0,
      this.tokenLimit?.waitMs(now, tokens) ?? 0,
    );
    return { ok: false, retryAfterMs, scope, budgets: this.budgets(now) };
  }

  /** An admitted request's response went out (or its connection died). */
  finish(): void {
    if (this.inFlight > 0) this.inFlight--;
  }

  stats(): ProviderSimulatorStats {
    const { windowMs } = this.opts;
    return {
      accepted: this.accepted.length,
      rejected: this.rejected.length,
      faults: { ...this.faults },
      tokens: this.tokens,
      maxRequestsInAnyWindow: maxInAnyWindow(this.accepted, windowMs),
      maxTokensInAnyWindow: maxInAnyWindow(this.accepted, windowMs, this.acceptedTokens),
      inFlight: this.inFlight,
      maxInFlight: this.maxInFlight,
      windowMs,
      elapsedMs: this.nowMs() - this.startMs,
    };
  }

  /** Copies, so a caller cannot rewrite the history the maxima are computed from. */
  log(): ProviderSimulatorLog {
    return {
      acceptedAtMs: [...this.accepted],
      acceptedTokens: [...this.acceptedTokens],
      rejectedAtMs: [...this.rejected],
    };
  }

  /** Forgets all history and counters and re-seeds the draws; requests in flight still finish. */
  reset(): void {
    this.startMs = this.nowMs();
    this.random = createRandom(this.opts.seed);
    this.accepted = [];
    this.acceptedTokens = [];
    this.rejected = [];
    this.faults = { p500: 0, p529: 0, reset: 0 };
    this.tokens = 0;
    // Requests still in flight were admitted before the reset, but they are in flight after it.
    this.maxInFlight = this.inFlight;
    this.buildLimits(undefined);
  }

  setOptions(update: unknown): ResolvedSimulatorOptions {
    const previous = this.opts;
    this.opts = mergeSimulatorOptions(previous, update);
    if (this.opts.seed !== previous.seed) this.random = createRandom(this.opts.seed);
    this.buildLimits(previous.mode === this.opts.mode ? previous : undefined);
    return this.opts;
  }

  private buildLimits(keepHistoryFrom: ResolvedSimulatorOptions | undefined): void {
    const now = this.nowMs();
    const { requestsPerWindow, tokensPerWindow, windowMs, mode } = this.opts;
    this.requestLimit = makeLimit(
      keepHistoryFrom ? this.requestLimit : undefined,
      requestsPerWindow,
      windowMs,
      mode,
      now,
    );
    const { quantumMs } = this.opts;
    this.quantumLimit =
      requestsPerWindow !== undefined && quantumMs !== undefined && quantumMs < windowMs
        ? new SlidingWindowLimit(
            Math.max(1, Math.ceil((requestsPerWindow * quantumMs) / windowMs)),
            quantumMs,
          )
        : undefined;
    this.tokenLimit = makeLimit(
      keepHistoryFrom ? this.tokenLimit : undefined,
      tokensPerWindow,
      windowMs,
      mode,
      now,
    );
  }

  private budgets(now: number): BudgetsSnapshot {
    const out: BudgetsSnapshot = {};
    if (this.requestLimit) out.requests = snapshot(this.requestLimit, now);
    if (this.tokenLimit) out.tokens = snapshot(this.tokenLimit, now);
    return out;
  }
}

function makeLimit(
  previous: Limit | undefined,
  limit: number | undefined,
  windowMs: number,
  mode: 'sliding' | 'bucket',
  nowMs: number,
): Limit | undefined {
  if (limit === undefined) return undefined;
  if (previous instanceof SlidingWindowLimit && mode === 'sliding') return previous.resized(limit, windowMs);
  if (previous instanceof TokenBucketLimit && mode === 'bucket')
    return previous.resized(limit, windowMs, nowMs);
  return mode === 'bucket' ? new TokenBucketLimit(limit, windowMs) : new SlidingWindowLimit(limit, windowMs);
}

function snapshot(limit: CapacityLimit, nowMs: number): BudgetSnapshot {
  return { limit: limit.limit, remaining: limit.remaining(nowMs), resetMs: limit.resetMs(nowMs) };
}
