/** One enforced limit of the simulated provider (requests or tokens), in `sliding` or `bucket` mode. */
export interface CapacityLimit {
  readonly limit: number;
  /** Milliseconds until `cost` more would fit (0: fits now; `Infinity`: never, cost > limit). */
  waitMs(nowMs: number, cost: number): number;
  /** Spends `cost` at `nowMs`, even beyond the limit (rejected requests with `countRejected`). */
  take(nowMs: number, cost: number): void;
  /** What is left right now (never negative). */
  remaining(nowMs: number): number;
  /** Milliseconds until the limit is fully replenished, as OpenAI's and Anthropic's resets mean it. */
  resetMs(nowMs: number): number;
}
