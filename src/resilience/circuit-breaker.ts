import { EventEmitter } from 'eventemitter3';
import { z } from 'zod';
import { abortReason, systemClock, type Clock } from '../util/clock';
import { InvalidOptionError, opt, parseOptions } from '../validation/options';
import type { BreakerPolicy } from './breaker-policy';
import { BrokenCircuitError } from './broken-circuit-error';
import { ConsecutivePolicy } from './consecutive-policy';
import { isClock } from '../util/is-clock';
import { isRecord } from '../util/is-record';
import { SamplingPolicy, samplingShape, type SamplingPolicyOptions } from './sampling-policy';
import { shouldTripBreaker } from './should-trip-breaker';

/**
 * - `closed`: calls run; the policy counts failures.
 * - `open`: calls fail fast with {@link BrokenCircuitError} until `halfOpenAfterMs` has passed.
 * - `half-open`: up to `halfOpenMaxCalls` trial calls run; the first to succeed closes the circuit,
 *   the first to fail reopens it.
 */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** Options every kind of {@link CircuitBreaker} accepts. */
export interface CircuitBreakerBaseOptions {
  /**
   * How long the circuit stays open before it lets trial calls through, in milliseconds.
   * @default 30_000
   */
  halfOpenAfterMs?: number;
  /**
   * Trial calls allowed in flight at once while half-open; the rest fail fast.
   * @default 1
   */
  halfOpenMaxCalls?: number;
  /**
   * Whether an error thrown by the call counts as a failure. Errors it rejects neither trip nor
   * heal the circuit (a half-open trial that ends with one just frees its slot).
   * @default shouldTripBreaker (rate limits and cancellations do not count; 5xx, 529, timeouts and plain errors do)
   */
  isFailure?: (error: unknown) => boolean;
  /**
   * Source of time (inject a `FakeClock` in tests).
   * @default systemClock
   */
  clock?: Clock;
  /**
   * Names the breaker in errors and events.
   * @default 'default'
   */
  name?: string;
}

/** Opens after `consecutiveFailures` failures in a row. */
export interface ConsecutiveBreakerOptions extends CircuitBreakerBaseOptions {
  /**
   * Failures in a row that open the circuit.
   * @default 5
   */
  consecutiveFailures?: number;
  failureRate?: never;
  windowMs?: never;
  minimumCalls?: never;
  policy?: never;
}

/** Opens when the failure rate over a sliding time window reaches `failureRate`. */
export interface SamplingBreakerOptions extends CircuitBreakerBaseOptions, SamplingPolicyOptions {
  consecutiveFailures?: never;
  policy?: never;
}

/** Opens when a policy of your own says so. */
export interface PolicyBreakerOptions extends CircuitBreakerBaseOptions {
  /** Decides when the closed circuit opens. */
  policy: BreakerPolicy;
  consecutiveFailures?: never;
  failureRate?: never;
  windowMs?: never;
  minimumCalls?: never;
}

/** Options of {@link CircuitBreaker}: the policy is chosen by which keys are present. */
export type CircuitBreakerOptions = ConsecutiveBreakerOptions | SamplingBreakerOptions | PolicyBreakerOptions;

/** Payload of the `stateChange` event. */
export interface CircuitStateChange {
  from: CircuitState;
  to: CircuitState;
}

/** Payload of the `open` event. */
export interface CircuitOpenEvent {
  /** What opened it: the policy, a failed half-open trial, {@link CircuitBreaker.open} or {@link CircuitBreaker.isolate}. */
  reason: 'failures' | 'trial-failed' | 'manual' | 'isolated';
  /** The failure that opened it, when a call did. */
  error: unknown;
  /** Milliseconds until it half-opens; `undefined` when isolated. */
  retryAfterMs: number | undefined;
}

/** Payload of the `success` event. */
export interface CircuitSuccessEvent {
  /** How long the call took, by the breaker's clock. */
  durationMs: number;
}

/** Payload of the `failure` event (emitted only for errors that `isFailure` counts). */
export interface CircuitFailureEvent {
  error: unknown;
  /** How long the call took, by the breaker's clock. */
  durationMs: number;
}

/**
 * Events of {@link CircuitBreaker}, as eventemitter3 argument lists. On a transition `stateChange`
 * comes first, then `open`, `halfOpen` or `close`; the state has already changed when they fire.
 */
export interface CircuitBreakerEvents {
  /** Any change of {@link CircuitState}. */
  stateChange: [change: CircuitStateChange];
  /** The circuit opened (from closed or half-open). */
  open: [event: CircuitOpenEvent];
  /** The open delay passed and trial calls may run (noticed at the next call or `state` read). */
  halfOpen: [];
  /** The circuit closed: a trial succeeded, or `reset()`. */
  close: [];
  /** A call that ran succeeded (also late results of calls admitted before a transition). */
  success: [event: CircuitSuccessEvent];
  /** A call that ran failed with an error that `isFailure` counts. */
  failure: [event: CircuitFailureEvent];
  /** A call was refused without running. */
  rejected: [error: BrokenCircuitError];
}

/** Options of {@link CircuitBreaker.run}. */
export interface CircuitRunOptions {
  /**
   * Passed on to the call; an already-aborted signal rejects before the breaker is consulted.
   * @default undefined
   */
  signal?: AbortSignal;
}

/** Admission record of one call: results of calls admitted before the last transition are stale. */
interface Ticket {
  generation: number;
  trial: boolean;
}

const baseShape = {
  halfOpenAfterMs: opt.nonNegativeNumber().default(30_000),
  halfOpenMaxCalls: opt.positiveInt().default(1),
  isFailure: opt.func().optional(),
  clock: opt.instance(isClock, 'a Clock with now() and sleep()').optional(),
  name: opt.string().default('default'),
};

const consecutiveSchema = z.strictObject({ ...baseShape, consecutiveFailures: opt.positiveInt().default(5) });
const samplingSchema = z.strictObject({ ...baseShape, ...samplingShape });
const isPolicy = (v: unknown): v is BreakerPolicy =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as BreakerPolicy).recordSuccess === 'function' &&
  typeof (v as BreakerPolicy).recordFailure === 'function' &&
  typeof (v as BreakerPolicy).reset === 'function';
const policySchema = z.strictObject({
  ...baseShape,
  policy: opt.instance(isPolicy, 'a BreakerPolicy with recordSuccess(), recordFailure() and reset()'),
});

/** The validated options shared by every kind of breaker. */
type BaseParsed = z.output<z.ZodObject<typeof baseShape>>;

/** Validates `options` and builds the policy its keys ask for. */
function parseBreakerOptions(options: CircuitBreakerOptions | undefined): {
  policy: BreakerPolicy;
  base: BaseParsed;
} {
  const has = (key: string) => isRecord(options) && key in options;
  const kinds = ['consecutiveFailures', 'failureRate', 'policy'].filter(has);
  if (kinds.length > 1) {
    throw new InvalidOptionError(
      kinds[1]!,
      `CircuitBreaker: pass only one of consecutiveFailures, failureRate or policy, got ${kinds.join(' and ')}`,
    );
  }
  if (has('policy')) {
    const { policy, ...base } = parseOptions(policySchema, options, 'CircuitBreaker');
    return { policy, base };
  }
  if (has('failureRate') || has('windowMs') || has('minimumCalls')) {
    const { failureRate, windowMs, minimumCalls, ...base } = parseOptions(
      samplingSchema,
      options,
      'CircuitBreaker',
    );
    return { policy: new SamplingPolicy({ failureRate, windowMs, minimumCalls }), base };
  }
  const { consecutiveFailures, ...base } = parseOptions(consecutiveSchema, options, 'CircuitBreaker');
  return { policy: new ConsecutivePolicy(consecutiveFailures), base };
}

/**
 * Stops calling a provider that keeps failing, so callers fail fast (and can fall back) instead of
 * piling load on an outage; after `halfOpenAfterMs` it lets trial calls probe for recovery.
 *
 * The move from open to half-open is lazy: it happens at the first call (or `state` read) after the
 * delay, so an idle breaker holds no timer.
 *
 * @example
 * const breaker = new CircuitBreaker({ consecutiveFailures: 5, halfOpenAfterMs: 30_000 });
 * const reply = await breaker.run((signal) => client.chat.completions.create(body, { signal }));
 *
 * @example Sampling: open when half the calls of the last minute failed (at least 20 calls).
 * new CircuitBreaker({ failureRate: 0.5, windowMs: 60_000, minimumCalls: 20, halfOpenAfterMs: 10_000 });
 */
export class CircuitBreaker extends EventEmitter<CircuitBreakerEvents> {
  /** Names the breaker in errors and events. */
  readonly name: string;
  /** Decides when the closed circuit opens. */
  readonly policy: BreakerPolicy;
  /** How long the circuit stays open before trial calls, in milliseconds. */
  readonly halfOpenAfterMs: number;
  /** Trial calls allowed in flight at once while half-open. */
  readonly halfOpenMaxCalls: number;
  private readonly isFailure: (error: unknown) => boolean;
  private readonly clock: Clock;
  private current: CircuitState = 'closed';
  private isolatedFlag = false;
  private openedAtMs = 0;
  private trialsInFlight = 0;
  // Bumped on every transition (and reset) so results of calls admitted earlier are ignored.
  private generation = 0;

  constructor(options?: CircuitBreakerOptions) {
    super();
    const { policy, base } = parseBreakerOptions(options);
    this.policy = policy;
    this.name = base.name;
    this.halfOpenAfterMs = base.halfOpenAfterMs;
    this.halfOpenMaxCalls = base.halfOpenMaxCalls;
    this.isFailure = (base.isFailure as ((error: unknown) => boolean) | undefined) ?? shouldTripBreaker;
    this.clock = base.clock ?? systemClock;
  }

  /** The current state; reading it half-opens an open circuit whose delay has passed. */
  get state(): CircuitState {
    this.halfOpenIfDue();
    return this.current;
  }

  /** True while the circuit is held open by {@link CircuitBreaker.isolate}. */
  get isolated(): boolean {
    return this.isolatedFlag;
  }

  /** Milliseconds until an open circuit half-opens; 0 when not open, `undefined` when isolated. */
  get retryAfterMs(): number | undefined {
    if (this.state !== 'open') return 0;
    if (this.isolatedFlag) return undefined;
    return Math.max(0, this.openedAtMs + this.halfOpenAfterMs - this.clock.now());
  }

  /**
   * Runs `fn` if the circuit allows it and records the outcome; otherwise rejects with
   * {@link BrokenCircuitError} without calling `fn`. `fn` receives the caller's signal (or a
   * signal that never aborts) to pass on to the SDK call.
   */
  async run<T>(fn: (signal: AbortSignal) => T | Promise<T>, options: CircuitRunOptions = {}): Promise<T> {
    const { signal } = options;
    if (signal?.aborted) throw abortReason(signal);
    const ticket = this.admit();
    const startMs = this.clock.now();
    let result: T;
    try {
      result = await fn(signal ?? new AbortController().signal);
    } catch (error) {
      this.recordError(ticket, error, this.clock.now() - startMs);
      throw error;
    }
    this.recordSuccess(ticket, this.clock.now() - startMs);
    return result;
  }

  /** Opens the circuit now, as if the policy had tripped; it half-opens after `halfOpenAfterMs`. */
  open(): void {
    this.isolatedFlag = false;
    this.toOpen('manual', undefined);
  }

  /** Holds the circuit open until {@link CircuitBreaker.reset}: no trial calls, no timer. */
  isolate(): void {
    this.isolatedFlag = true;
    this.toOpen('isolated', undefined);
  }

  /** Closes the circuit and forgets all failures (also ends an isolation). */
  reset(): void {
    this.isolatedFlag = false;
    this.policy.reset();
    if (this.current === 'closed') {
      this.generation++;
      return;
    }
    this.transition('closed');
    this.emit('close');
  }

  private admit(): Ticket {
    this.halfOpenIfDue();
    if (this.current === 'closed') return { generation: this.generation, trial: false };
    if (this.current === 'half-open' && this.trialsInFlight < this.halfOpenMaxCalls) {
      this.trialsInFlight++;
      return { generation: this.generation, trial: true };
    }
    const error =
      this.current === 'half-open'
        ? new BrokenCircuitError(this.name)
        : new BrokenCircuitError(this.name, { retryAfterMs: this.retryAfterMs, isolated: this.isolatedFlag });
    this.emit('rejected', error);
    throw error;
  }

  private recordSuccess(ticket: Ticket, durationMs: number): void {
    this.emit('success', { durationMs });
    if (ticket.generation !== this.generation) return;
    if (ticket.trial) {
      this.policy.reset();
      this.transition('closed');
      this.emit('close');
    } else {
      this.policy.recordSuccess(this.clock.now());
    }
  }

  private recordError(ticket: Ticket, error: unknown, durationMs: number): void {
    let counted: boolean;
    try {
      counted = this.isFailure(error);
    } catch {
      counted = true; // a broken classifier must not hide failures
    }
    if (counted) this.emit('failure', { error, durationMs });
    if (ticket.generation !== this.generation) return;
    if (!counted) {
      // Neither healthy nor sick: a trial just gives its slot to the next caller.
      if (ticket.trial) this.trialsInFlight--;
      return;
    }
    if (ticket.trial) this.toOpen('trial-failed', error);
    else if (this.policy.recordFailure(this.clock.now())) this.toOpen('failures', error);
  }

  private halfOpenIfDue(): void {
    if (this.current !== 'open' || this.isolatedFlag) return;
    if (this.clock.now() - this.openedAtMs < this.halfOpenAfterMs) return;
    this.transition('half-open');
    this.emit('halfOpen');
  }

  private toOpen(reason: CircuitOpenEvent['reason'], error: unknown): void {
    this.openedAtMs = this.clock.now();
    // Already open (a manual open or isolate): the delay restarts, but the state does not change.
    if (this.current === 'open') return;
    this.transition('open');
    this.emit('open', { reason, error, retryAfterMs: this.isolatedFlag ? undefined : this.halfOpenAfterMs });
  }

  private transition(to: CircuitState): void {
    const from = this.current;
    this.current = to;
    this.trialsInFlight = 0;
    this.generation++;
    this.emit('stateChange', { from, to });
  }
}
