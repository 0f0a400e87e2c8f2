import { throwIfAborted } from './abort';
import { assertNode, BaseNode, type AnyNode } from './base-node';
import type { Action, Params } from './types';

/**
 * Runs a graph of nodes from `start`, following the action each node's `post` returns.
 * Each visit runs a fresh shallow copy of the node with the flow's params.
 *
 * Unlike the pocketflow TS port (and like the Python original), `run` resolves to the last
 * action of the inner run, so a flow nested in another flow can branch on it.
 * @category PocketFlow core
 */
export class Flow<S = unknown, P extends object = Params> extends BaseNode<S, P> {
  start: AnyNode;

  constructor(start: AnyNode) {
    super();
    assertNode(start, `${new.target.name}: start`);
    this.start = start;
  }

  /** Walks the graph once with `params` (the flow's own by default); resolves to the last action. */
  protected _orchestrate(shared: S, params?: P): Promise<Action | undefined> {
    // Not async itself: a layer of promise more would reorder concurrent flows against pocketflow's.
    return this.walk(shared, params ?? this._params, this.signal, this.throttleScope);
  }

  /**
   * `_orchestrate` with the signal and throttle scope given rather than read from this flow, so a
   * throttled batch flow need not copy itself per param set (the copy was ~20% of a no-op
   * sub-flow). A subclass that overrides `_orchestrate` still has it called, on a copy carrying them.
   * @internal
   */
  protected orchestrateWith(
    shared: S,
    params: P,
    signal: AbortSignal | undefined,
    scope: object | undefined,
  ): Promise<Action | undefined> {
    if (this._orchestrate === Flow.prototype._orchestrate) return this.walk(shared, params, signal, scope);
    const runner = this.clone();
    runner.signal = signal;
    runner.throttleScope = scope;
    return runner._orchestrate(shared, params);
  }

  private async walk(
    shared: S,
    params: P,
    signal: AbortSignal | undefined,
    scope: object | undefined,
  ): Promise<Action | undefined> {
    let current: AnyNode | undefined = this.start.clone();
    let last: Action | undefined;
    while (current) {
      throwIfAborted(signal);
      current.setParams(params);
      current.signal = signal;
      current.throttleScope = scope;
      last = await current._run(shared as never);
      current = current.getNextNode(last)?.clone();
    }
    return last;
  }

  override async _run(shared: S): Promise<Action | undefined> {
    const prepRes = await this.prep(shared);
    const lastAction = await this._orchestrate(shared);
    return await this.post(shared, prepRes, lastAction);
  }

  /** By default a flow's action is the last action of its inner run. */
  override async post(_shared: S, _prepRes: unknown, execRes: unknown): Promise<Action | undefined> {
    return execRes as Action | undefined;
  }

  override async exec(_prepRes: unknown): Promise<unknown> {
    throw new Error("Flow can't exec.");
  }
}
