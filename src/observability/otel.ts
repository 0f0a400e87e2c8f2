/**
 * `throttleflow/otel`: OpenTelemetry spans and metrics for throttled nodes and limiters
 * ({@link instrument}). The one module that imports `@opentelemetry/api`, an optional peer
 * dependency: install it to use this entry point.
 * @module throttleflow/otel
 */
import {
  context,
  metrics,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type BatchObservableResult,
  type Meter,
  type Observable,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import type { Limiter } from '../limits/limiter';
import { LimiterMetrics } from '../limits/limiter-metrics';
import {
  addEventHook,
  type CallEvent,
  type NodeRunEvent,
  type NodeStartEvent,
  type ThrottleEvent,
} from './throttle-event';

/** Options of {@link instrument}. */
export interface InstrumentOptions {
  /**
   * Where spans go; `null` for no spans.
   * @default trace.getTracer('throttleflow') (the global tracer provider's)
   */
  tracer?: Tracer | null;
  /**
   * Where metrics go; `null` for no metrics.
   * @default metrics.getMeter('throttleflow') (the global meter provider's)
   */
  meter?: Meter | null;
  /**
   * The limiters whose queue length, calls in flight and rate limits are observed.
   * @default every limiter with `LimiterMetrics` attached (those of throttled nodes and of the
   * registry), read at each collection
   */
  limiters?: Iterable<Limiter> | (() => Iterable<Limiter>);
  /**
   * Wall-clock time in ms since the epoch, for span times (events report durations; spans are
   * placed so they end now).
   * @default Date.now
   */
  now?: () => number;
}

/** A running instrumentation; `stop()` (or `using`) unsubscribes and ends open spans. */
export interface Instrumentation extends Disposable {
  stop(): void;
}

/** Attribute names of throttleflow spans and metrics. */
export const ATTR = {
  node: 'throttleflow.node',
  limiter: 'throttleflow.limiter',
  runId: 'throttleflow.run_id',
  items: 'throttleflow.items',
  outcome: 'throttleflow.outcome',
  attempt: 'throttleflow.attempt',
  waitMs: 'throttleflow.wait_ms',
  durationMs: 'throttleflow.duration_ms',
  tokensEstimated: 'throttleflow.tokens.estimated',
  tokensUsed: 'throttleflow.tokens.used',
  costUsd: 'throttleflow.cost_usd',
  rateLimited: 'throttleflow.rate_limited',
  rateLimits: 'throttleflow.rate_limits',
  calls: 'throttleflow.calls',
  model: 'gen_ai.request.model',
  target: 'throttleflow.target',
} as const;

const MINUTE_MS = 60_000;
const SECOND_MS = 1_000;

/** Tokens used per limiter over the last minute, in one-second buckets (bounded memory). */
class TokensPerMinute {
  readonly #buckets = new Map<string, { second: number[]; tokens: number[] }>();

  add(limiter: string, tokens: number, nowMs: number): void {
    let b = this.#buckets.get(limiter);
    if (b === undefined)
      this.#buckets.set(limiter, (b = { second: new Array(60).fill(-1), tokens: new Array(60).fill(0) }));
    const second = Math.floor(nowMs / SECOND_MS);
    const i = second % 60;
    if (b.second[i] !== second) {
      b.second[i] = second;
      b.tokens[i] = 0;
    }
    b.tokens[i]! += tokens;
  }

  /** Tokens per limiter in the minute before `nowMs`. */
  read(nowMs: number): Map<string, number> {
    const out = new Map<string, number>();
    const now = Math.floor(nowMs / SECOND_MS);
    for (const [limiter, b] of this.#buckets) {
      let sum = 0;
      for (let i = 0; i < 60; i++) if (b.second[i]! > now - MINUTE_MS / SECOND_MS) sum += b.tokens[i]!;
      out.set(limiter, sum);
    }
    return out;
  }
}

/** An open node run: its span and what its calls added up to. */
interface OpenRun {
  span: Span | undefined;
  calls: number;
  rateLimits: number;
  tokens: number;
  costUsd: number | undefined;
  waitMs: number;
}

/**
 * Reports throttled nodes to OpenTelemetry: a span per node run (`throttleflow.node_run`) with a
 * child span per call of `exec` (`throttleflow.call`, covering its wait for the limiter and the
 * call), and metrics. Subscribes with `addEventHook`, so it sees every throttled node in the
 * process; spans use the tracer and metrics the meter you pass (by default the global providers',
 * which do nothing until an SDK is registered).
 *
 * Span attributes: `throttleflow.node`, `throttleflow.limiter`, `throttleflow.run_id`; on calls
 * `throttleflow.outcome`, `.attempt`, `.wait_ms`, `.duration_ms`, `.tokens.estimated`,
 * `.tokens.used`, `.cost_usd` (when the model could be priced), `.rate_limited` (a 429/529) and
 * `gen_ai.request.model`, and `throttleflow.target` on the calls of a fallback chain (the target
 * that made it); on runs `throttleflow.items`, `.duration_ms`, `.calls`, `.rate_limits`,
 * `.tokens.used`, `.cost_usd`, `.wait_ms` (total). Failed calls and runs have an error status.
 *
 * Metrics: counters `throttleflow.calls` (by outcome), `throttleflow.rate_limits` (429s, 529s and exhausted quotas),
 * `throttleflow.tokens`, `throttleflow.cost` (USD); histograms `throttleflow.call.duration` and
 * `throttleflow.queue.wait` (ms); gauges per limiter `throttleflow.limiter.queued` (queue length),
 * `throttleflow.limiter.active` (in flight), `throttleflow.limiter.utilization`,
 * `throttleflow.tokens_per_minute` (tokens used in the last minute) and the observable counter
 * `throttleflow.limiter.rate_limits` (rate limits each limiter was told about).
 *
 * @example
 * import { instrument } from 'throttleflow/otel';
 * const otel = instrument(); // after the OpenTelemetry SDK is set up
 * // … run flows …
 * otel.stop();
 */
export function instrument(options: InstrumentOptions = {}): Instrumentation {
  const tracer = options.tracer === null ? undefined : (options.tracer ?? trace.getTracer('throttleflow'));
  const meter = options.meter === null ? undefined : (options.meter ?? metrics.getMeter('throttleflow'));
  const now = options.now ?? Date.now;
  const limitersOption = options.limiters;
  const limiters = (): Iterable<Limiter> =>
    typeof limitersOption === 'function' ? limitersOption() : (limitersOption ?? LimiterMetrics.limiters());

  const runs = new Map<number, OpenRun>();
  const tokensPerMinute = new TokensPerMinute();

  const calls = meter?.createCounter(ATTR.calls, {
    description: 'Calls of exec made by throttled nodes',
    unit: '{call}',
  });
  const rateLimits = meter?.createCounter(ATTR.rateLimits, {
    description: 'Provider rate limits (429/529) met by throttled nodes',
    unit: '{rate_limit}',
  });
  const tokens = meter?.createCounter('throttleflow.tokens', {
    description: 'Tokens the provider reported',
    unit: '{token}',
  });
  const cost = meter?.createCounter('throttleflow.cost', {
    description: 'Cost of the calls that could be priced',
    unit: 'USD',
  });
  const duration = meter?.createHistogram('throttleflow.call.duration', {
    description: 'Time a call of exec ran',
    unit: 'ms',
  });
  const wait = meter?.createHistogram('throttleflow.queue.wait', {
    description: 'Time a call waited for its limiter',
    unit: 'ms',
  });

  let removeObservers: (() => void) | undefined;
  if (meter) {
    const queued = meter.createObservableGauge('throttleflow.limiter.queued', {
      description: 'Acquires waiting for the limiter',
      unit: '{request}',
    });
    const active = meter.createObservableGauge('throttleflow.limiter.active', {
      description: 'Leases held (calls in flight)',
      unit: '{request}',
    });
    const utilization = meter.createObservableGauge('throttleflow.limiter.utilization', {
      description: 'Largest fraction in use of any limit',
      unit: '1',
    });
    const perMinute = meter.createObservableGauge('throttleflow.tokens_per_minute', {
      description: 'Tokens used in the last minute',
      unit: '{token}',
    });
    const limiterRateLimits = meter.createObservableCounter('throttleflow.limiter.rate_limits', {
      description: 'Rate limits reported to the limiter',
      unit: '{rate_limit}',
    });
    const observables: Observable[] = [queued, active, utilization, perMinute, limiterRateLimits];
    const observe = (result: BatchObservableResult): void => {
      const byName = new Map<
        string,
        { queued: number; active: number; utilization: number; rateLimits: number }
      >();
      for (const limiter of limiters()) {
        const s = limiter.stats();
        const sum = byName.get(s.name) ?? { queued: 0, active: 0, utilization: 0, rateLimits: 0 };
        sum.queued += s.queued;
        sum.active += s.active;
        sum.utilization = Math.max(sum.utilization, s.utilization);
        sum.rateLimits += s.totalRateLimits;
        byName.set(s.name, sum);
      }
      for (const [name, sum] of byName) {
        const attributes = { [ATTR.limiter]: name };
        result.observe(queued, sum.queued, attributes);
        result.observe(active, sum.active, attributes);
        result.observe(utilization, sum.utilization, attributes);
        result.observe(limiterRateLimits, sum.rateLimits, attributes);
      }
      for (const [name, total] of tokensPerMinute.read(now()))
        result.observe(perMinute, total, { [ATTR.limiter]: name });
    };
    meter.addBatchObservableCallback(observe, observables);
    removeObservers = () => meter.removeBatchObservableCallback(observe, observables);
  }

  const onStart = (event: NodeStartEvent): void => {
    const span = tracer?.startSpan(
      'throttleflow.node_run',
      {
        kind: SpanKind.INTERNAL,
        startTime: now(),
        attributes: {
          [ATTR.node]: event.node,
          [ATTR.limiter]: event.limiter,
          [ATTR.runId]: event.runId,
          [ATTR.items]: event.items,
        },
      },
      context.active(),
    );
    runs.set(event.runId, { span, calls: 0, rateLimits: 0, tokens: 0, costUsd: undefined, waitMs: 0 });
  };

  const onCall = (event: CallEvent): void => {
    const end = now();
    const run = event.runId === undefined ? undefined : runs.get(event.runId);
    const base = { [ATTR.node]: event.node, [ATTR.limiter]: event.limiter };
    if (run) {
      run.calls++;
      run.waitMs += event.waitMs;
      if (event.outcome === 'rate_limited') run.rateLimits++;
      if (event.tokensUsed !== undefined) run.tokens += event.tokensUsed;
      if (event.costUsd !== undefined) run.costUsd = (run.costUsd ?? 0) + event.costUsd;
    }
    calls?.add(1, { ...base, [ATTR.outcome]: event.outcome });
    if (event.outcome === 'rate_limited') rateLimits?.add(1, base);
    const modelAttr: Attributes = event.model !== undefined ? { [ATTR.model]: event.model } : {};
    if (event.tokensUsed !== undefined && event.tokensUsed >= 0) {
      tokens?.add(event.tokensUsed, { ...base, ...modelAttr });
      tokensPerMinute.add(event.limiter, event.tokensUsed, end);
    }
    if (event.costUsd !== undefined) cost?.add(event.costUsd, { ...base, ...modelAttr });
    duration?.record(event.durationMs, { ...base, [ATTR.outcome]: event.outcome });
    wait?.record(event.waitMs, base);
    if (!tracer) return;

    const attributes: Attributes = {
      ...base,
      [ATTR.outcome]: event.outcome,
      [ATTR.attempt]: event.attempt,
      [ATTR.waitMs]: event.waitMs,
      [ATTR.durationMs]: event.durationMs,
      [ATTR.rateLimited]: event.outcome === 'rate_limited',
      ...modelAttr,
    };
    if (event.runId !== undefined) attributes[ATTR.runId] = event.runId;
    if (event.tokensEstimated !== undefined) attributes[ATTR.tokensEstimated] = event.tokensEstimated;
    if (event.tokensUsed !== undefined) attributes[ATTR.tokensUsed] = event.tokensUsed;
    if (event.costUsd !== undefined) attributes[ATTR.costUsd] = event.costUsd;
    if (event.target !== undefined) attributes[ATTR.target] = event.target;
    const acquiredAt = end - event.durationMs;
    const parent = run?.span ? trace.setSpan(context.active(), run.span) : context.active();
    const span = tracer.startSpan(
      'throttleflow.call',
      { kind: SpanKind.CLIENT, startTime: acquiredAt - event.waitMs, attributes },
      parent,
    );
    span.addEvent('throttleflow.acquired', { [ATTR.waitMs]: event.waitMs }, acquiredAt);
    if (event.outcome !== 'ok') fail(span, event.error);
    span.end(end);
  };

  const onRun = (event: NodeRunEvent): void => {
    const end = now();
    const run = event.runId === undefined ? undefined : runs.get(event.runId);
    if (event.runId !== undefined) runs.delete(event.runId);
    if (!tracer) return;
    // A run that started before instrument() has no open span: place one after the fact.
    const span =
      run?.span ??
      tracer.startSpan('throttleflow.node_run', {
        kind: SpanKind.INTERNAL,
        startTime: end - event.durationMs,
        attributes: {
          [ATTR.node]: event.node,
          [ATTR.limiter]: event.limiter,
          [ATTR.items]: event.items,
          ...(event.runId !== undefined ? { [ATTR.runId]: event.runId } : {}),
        },
      });
    span.setAttribute(ATTR.durationMs, event.durationMs);
    if (run) {
      span.setAttributes({
        [ATTR.calls]: run.calls,
        [ATTR.rateLimits]: run.rateLimits,
        [ATTR.tokensUsed]: run.tokens,
        [ATTR.waitMs]: run.waitMs,
      });
      if (run.costUsd !== undefined) span.setAttribute(ATTR.costUsd, run.costUsd);
    }
    if (event.error !== undefined) fail(span, event.error);
    span.end(end);
  };

  const hook = (event: ThrottleEvent): void => {
    if (event.type === 'call') onCall(event);
    else if (event.type === 'node_start') onStart(event);
    else if (event.type === 'node_run') onRun(event);
  };
  const unsubscribe = addEventHook(hook);

  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    unsubscribe();
    removeObservers?.();
    for (const run of runs.values()) run.span?.end(now());
    runs.clear();
  };
  return { stop, [Symbol.dispose]: stop };
}

function fail(span: Span, error: unknown): void {
  if (error instanceof Error) span.recordException(error);
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : error === undefined ? undefined : String(error),
  });
}
