import { LatencyHistogram } from '../limits/latency-histogram';
import { percentilesOf, type LatencyStats } from '../limits/limiter-metrics';

/** What a throttled node adds to its stats: percentiles of its own calls, tokens and cost. */
export interface NodeMetricsStats extends LatencyStats {
  /** Tokens the provider reported (the node's `usageOf`) over every successful call. */
  tokens: number;
  /**
   * US dollars of the successful calls that could be priced (a known `model` and a response
   * carrying usage); `undefined` until one could.
   */
  costUsd: number | undefined;
  /**
   * Successful calls with a model whose cost could not be computed (the model is not in the price
   * table, or the response carries no usage), so `costUsd` leaves them out.
   */
  unpricedCalls: number;
}

/**
 * The measurements of one throttled node, shared by every per-visit copy of it: latency
 * histograms of its calls (bounded memory) and totals of tokens and cost.
 * @internal
 */
export class NodeMetrics {
  /** How long each call of `exec` ran, in ms (failed calls included). */
  readonly latency = new LatencyHistogram();
  /** How long each call waited for the limiter, in ms. */
  readonly queueWait = new LatencyHistogram();
  tokens = 0;
  costUsd: number | undefined = undefined;
  unpricedCalls = 0;

  /** One call that went through the limiter (whatever its outcome). */
  recordCall(waitMs: number, durationMs: number): void {
    if (waitMs >= 0 && waitMs < Infinity) this.queueWait.record(waitMs);
    if (durationMs >= 0 && durationMs < Infinity) this.latency.record(durationMs);
  }

  /**
   * The spend of one successful call.
   * @param tokens - tokens the provider reported, if it did
   * @param costUsd - its price, `undefined` when it has none
   * @param priceable - whether a model was known (so a missing price is worth counting)
   */
  recordSpend(tokens: number | undefined, costUsd: number | undefined, priceable: boolean): void {
    if (tokens !== undefined && Number.isFinite(tokens) && tokens >= 0) this.tokens += tokens;
    if (costUsd !== undefined) this.costUsd = (this.costUsd ?? 0) + costUsd;
    else if (priceable) this.unpricedCalls++;
  }

  stats(): NodeMetricsStats {
    return {
      latency: percentilesOf(this.latency),
      queueWait: percentilesOf(this.queueWait),
      tokens: this.tokens,
      costUsd: this.costUsd,
      unpricedCalls: this.unpricedCalls,
    };
  }
}
