/** One call made by a throttled node (emitted after it ends). */
export interface CallEvent {
  type: 'call';
  /** The node's class name. */
  node: string;
  /** The limiter the call went through. */
  limiter: string;
  /** How the call ended. */
  outcome: 'ok' | 'error' | 'rate_limited';
  /** Milliseconds spent waiting for the limiter. */
  waitMs: number;
  /** Milliseconds `exec` ran. */
  durationMs: number;
  /** Token estimate charged at the start. */
  tokensEstimated: number | undefined;
  /** Tokens the provider reported, when it did. */
  tokensUsed: number | undefined;
  /** Zero-based try of this item (ordinary failures and rate limits together). */
  attempt: number;
  /** The error, for `error` and `rate_limited`. */
  error?: unknown;
  /** The run of the node this call belongs to (the `runId` of its `node_start` and `node_run` events). */
  runId?: number;
  /** The model the call was for (the item's `model` or the node's `model` option), when known. */
  model?: string;
  /** What the call cost in US dollars, when its model and usage could be priced (successful calls only). */
  costUsd?: number;
  /** The fallback target that made the call, for calls of a `FallbackChain` (then `node` is the chain's name). */
  target?: string;
}

/** A throttled node starts a run over its items (emitted before its first call). */
export interface NodeStartEvent {
  type: 'node_start';
  node: string;
  limiter: string;
  items: number;
  /** Identifies this run in its calls' and its `node_run` event. */
  runId: number;
}

/** One run of a throttled node over its items (emitted after it ends). */
export interface NodeRunEvent {
  type: 'node_run';
  node: string;
  limiter: string;
  items: number;
  durationMs: number;
  /** The error `run` rejects with, if it does. */
  error?: unknown;
  /** The `runId` of the run's `node_start` event. */
  runId?: number;
}

/**
 * How far a run of a throttled node (over its items) or of a throttled batch flow (over its param
 * sets) has got: emitted at most every 250 ms while items end, and once more
 * when the run ends (`final: true`). For a progress bar or a dashboard; `done + failed + inFlight +
 * queued = total` in every event.
 */
export interface ProgressEvent {
  type: 'progress';
  /** The node's or flow's class name. */
  node: string;
  /** Whether a node's items or a flow's param sets are counted. */
  kind: 'node' | 'flow';
  /** The run (a node's `runId` matches its `node_start` and `node_run` events). */
  runId: number;
  /** Items (param sets) in the run. */
  total: number;
  /** Items that ended with a result (for a node, `execFallback`'s too). */
  done: number;
  /** Items that ended with an error (for a flow: failed sub-flows and, at the end, skipped ones). */
  failed: number;
  /** Items holding a slot of the limiter now. */
  inFlight: number;
  /** Items not ended and holding no slot: waiting in the limiter, between tries, or not started yet. */
  queued: number;
  /** Items ended per second since the previous event (over the whole run in the final one). */
  ratePerSec: number;
  /** Milliseconds since the run started, on the limiter's clock. */
  elapsedMs: number;
  /** True in the last event of the run. */
  final: boolean;
}

/** Least time between two `progress` events of one run (the final one is always sent). */
export const PROGRESS_INTERVAL_MS = 250;

/** What throttleflow reports to `onEvent` hooks (for logs, Langfuse, OpenTelemetry). */
export type ThrottleEvent = CallEvent | NodeStartEvent | NodeRunEvent | ProgressEvent;

/** A function that receives events. It must not throw (a throwing hook is ignored). */
export type EventHook = (event: ThrottleEvent) => void;

const globalHooks = new Set<EventHook>();
let lastRunId = 0;

/** A new id for a node run (unique in this process). @internal */
export function nextRunId(): number {
  return ++lastRunId;
}

/**
 * Receives the events of every throttled node in this process (in addition to each node's own
 * `onEvent`). Returns a function that removes the hook.
 *
 * @example
 * const stop = addEventHook((e) => { if (e.type === 'call') console.log(e.node, e.outcome, e.durationMs); });
 */
export function addEventHook(hook: EventHook): () => void {
  globalHooks.add(hook);
  return () => globalHooks.delete(hook);
}

/** Sends an event to a node's own hook and to the global hooks; a throwing hook cannot break a run. */
export function emitEvent(event: ThrottleEvent, own: EventHook | undefined): void {
  if (own) safely(own, event);
  for (const hook of globalHooks) safely(hook, event);
}

/** Whether anyone listens (so nodes skip building events nobody reads). */
export function hasEventHooks(own: EventHook | undefined): boolean {
  return own !== undefined || globalHooks.size > 0;
}

function safely(hook: EventHook, event: ThrottleEvent): void {
  try {
    hook(event);
  } catch {
    // A hook is an observer: its failure must not change the pipeline's outcome.
  }
}
