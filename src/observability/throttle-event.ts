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
}

/** What throttleflow reports to `onEvent` hooks (for logs, Langfuse, OpenTelemetry). */
export type ThrottleEvent = CallEvent | NodeRunEvent;

/** A function that receives events. It must not throw (a throwing hook is ignored). */
export type EventHook = (event: ThrottleEvent) => void;

const globalHooks = new Set<EventHook>();

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
