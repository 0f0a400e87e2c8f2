import type { CallEstimate } from '../cost/call-spend';
import { costOf } from '../cost/cost-of';
import type { PriceTable } from '../cost/price-table';
import type { RoutingStrategy } from './fallback-options';
import type { ResolvedTarget } from './resolved-target';

/** A target that could take a call, with how long its limiter would probably make the call wait. @internal */
export interface Candidate<Item, Result> {
  resolved: ResolvedTarget<Item, Result>;
  waitMs: number;
}

/** What a strategy needs besides the candidates. @internal */
export interface ChoiceContext {
  maxWaitMs: number;
  prices: PriceTable;
  estimate: CallEstimate | undefined;
}

/** What a strategy decided: the target, and the cheaper or faster ones it passed by for their wait. @internal */
export interface Choice<Item, Result> {
  chosen: Candidate<Item, Result>;
  passedForWait: Candidate<Item, Result>[];
}

/** Waits closer than this are a tie (clock readings are ms; estimates are fractions of them). */
const TIE_MS = 0.5;

/** Soonest first; ties to fewer calls in flight, then to the earlier target. */
export function compareSoonest<Item, Result>(a: Candidate<Item, Result>, b: Candidate<Item, Result>): number {
  if (Math.abs(a.waitMs - b.waitMs) > TIE_MS) return a.waitMs - b.waitMs;
  if (a.resolved.inFlight !== b.resolved.inFlight) return a.resolved.inFlight - b.resolved.inFlight;
  return a.resolved.index - b.resolved.index;
}

/**
 * The estimated price of a call on `model`: its prompt and output at the model's rates, or, when
 * the call's tokens are unknown, the price of a million input plus a million output tokens (so
 * models still compare by their rates).
 */
export function estimatedCostUsd(
  model: string,
  estimate: CallEstimate | undefined,
  prices: PriceTable,
): number {
  if (estimate === undefined) {
    const price = prices.get(model);
    return price.inputUsdPerMillion + price.outputUsdPerMillion;
  }
  const { inputTokens, outputTokens } = estimate;
  return costOf(
    model,
    { prompt_tokens: inputTokens, completion_tokens: outputTokens, total_tokens: inputTokens + outputTokens },
    prices,
  );
}

/** Picks the target of one call among `candidates` (at least one). @internal */
export function chooseTarget<Item, Result>(
  strategy: Exclude<RoutingStrategy, 'ordered'>,
  candidates: readonly Candidate<Item, Result>[],
  context: ChoiceContext,
): Choice<Item, Result> {
  const soonest = () => candidates.reduce((best, c) => (compareSoonest(c, best) < 0 ? c : best));
  if (strategy === 'soonest') return { chosen: soonest(), passedForWait: [] };
  const score =
    strategy === 'cheapest'
      ? (c: Candidate<Item, Result>) =>
          estimatedCostUsd(c.resolved.target.model!, context.estimate, context.prices)
      : (c: Candidate<Item, Result>) => c.resolved.latency.p50() ?? 0; // an unmeasured target is tried
  const allowedMs = strategy === 'cheapest' ? context.maxWaitMs : 0;
  const scored = candidates.map((c) => ({ c, score: score(c) }));
  let best: { c: Candidate<Item, Result>; score: number } | undefined;
  for (const s of scored) {
    if (s.c.waitMs > allowedMs) continue;
    if (
      best === undefined ||
      s.score < best.score ||
      (s.score === best.score && compareSoonest(s.c, best.c) < 0)
    )
      best = s;
  }
  const chosen = best?.c ?? soonest();
  const chosenScore = best?.score ?? score(chosen);
  const passedForWait = scored.filter(
    (s) => s.c !== chosen && s.c.waitMs > allowedMs && s.score < chosenScore,
  );
  return { chosen, passedForWait: passedForWait.map((s) => s.c) };
}
