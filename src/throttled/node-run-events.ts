import type { Limiter } from '../limits/limiter';
import { emitEvent, hasEventHooks, type EventHook } from '../observability/throttle-event';

/** What the `node_start` and `node_run` events of one run of a throttled node say. @internal */
export interface NodeRunInfo {
  hook: EventHook | undefined;
  node: string;
  limiter: Limiter;
  items: number;
  runId: number;
}

/** `node_start`, before the first call (built only when someone listens). @internal */
export function emitNodeStart(run: NodeRunInfo): void {
  if (!hasEventHooks(run.hook)) return;
  const { node, limiter, items, runId } = run;
  emitEvent({ type: 'node_start', node, limiter: limiter.name, items, runId }, run.hook);
}

/** `node_run`, after every item settled; `failure` is set when the run rejects. @internal */
export function emitNodeRun(run: NodeRunInfo, startedAtMs: number, failure?: { error: unknown }): void {
  if (!hasEventHooks(run.hook)) return;
  const { node, limiter, items, runId } = run;
  const durationMs = limiter.clock.now() - startedAtMs;
  const event = { type: 'node_run' as const, node, limiter: limiter.name, items, durationMs, runId };
  emitEvent(failure ? { ...event, error: failure.error } : event, run.hook);
}
