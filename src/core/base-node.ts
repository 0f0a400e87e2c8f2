import { isRecord } from '../util/is-record';
import { InvalidOptionError } from '../validation/options';
import { throwIfAborted } from './abort';
import type { Action, Params, RunOptions } from './types';

/** Any node or flow, whatever its shared-state and params types. */

/** @category PocketFlow core */
export type AnyNode = BaseNode<never, object>;

/**
 * A node by shape, not only by `instanceof`: nodes from another copy of throttleflow (the CJS and
 * ESM builds loaded side by side) or from pocketflow itself run in our flows just as well.
 */
function isNode(value: unknown): value is AnyNode {
  if (value instanceof BaseNode) return true;
  return (
    isRecord(value) &&
    ['_run', 'clone', 'setParams', 'getNextNode'].every((k) => typeof value[k] === 'function')
  );
}

/** @internal */
export function assertNode(value: unknown, argument: string): asserts value is AnyNode {
  if (!isNode(value)) {
    throw new InvalidOptionError(
      argument,
      `${argument} must be a node (an instance of BaseNode), got ${describe(value)}`,
    );
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  return typeof value === 'string' ? `'${value}'` : String(value);
}

/**
 * The smallest unit of a pipeline: `prep` reads shared state, `exec` does the work, `post`
 * writes results back and returns the action that picks the next node.
 * Same contract as npm `pocketflow`'s `BaseNode`.
 * @category PocketFlow core
 */
export class BaseNode<S = unknown, P extends object = Params> {
  protected _params: P = {} as P;
  protected _successors: Map<Action, AnyNode> = new Map();
  /** The cancellation signal of the run this node (copy) belongs to, if any. */
  signal: AbortSignal | undefined;
  /**
   * Identifies the throttled-flow run this copy belongs to: node limits apply per scope, so each
   * sub-flow of a throttled batch flow gets its own budget (as the reference cookbook describes).
   * @internal
   */
  throttleScope: object | undefined;

  /** Params of the current run (merged from the enclosing flows). */
  get params(): P {
    return this._params;
  }

  setParams(params: P): this {
    this._params = params;
    return this;
  }

  /** Connects `node` as the successor for the `'default'` action and returns `node`, for chaining. */
  next<T extends AnyNode>(node: T): T {
    this.on('default', node);
    return node;
  }

  /** Connects `node` as the successor for `action`. */
  on(action: Action, node: AnyNode): this {
    if (typeof action !== 'string')
      throw new InvalidOptionError('action', `action must be a string, got ${describe(action)}`);
    assertNode(node, 'node');
    if (this._successors.has(action)) console.warn(`Overwriting successor for action '${action}'`);
    this._successors.set(action, node);
    return this;
  }

  /** The successor for `action`; warns when the node has successors but none for this action. */
  getNextNode(action: Action = 'default'): AnyNode | undefined {
    const nextAction = action || 'default';
    const next = this._successors.get(nextAction);
    if (!next && this._successors.size > 0) {
      console.warn(`Flow ends: '${nextAction}' not found in [${Array.from(this._successors.keys())}]`);
    }
    return next;
  }

  /** The successors by action (a copy). */
  get successors(): ReadonlyMap<Action, AnyNode> {
    return new Map(this._successors);
  }

  async prep(_shared: S): Promise<unknown> {
    return undefined;
  }

  async exec(_prepRes: unknown): Promise<unknown> {
    return undefined;
  }

  async post(_shared: S, _prepRes: unknown, _execRes: unknown): Promise<Action | undefined> {
    return undefined;
  }

  async _exec(prepRes: unknown): Promise<unknown> {
    return await this.exec(prepRes);
  }

  async _run(shared: S): Promise<Action | undefined> {
    const prepRes = await this.prep(shared);
    const execRes = await this._exec(prepRes);
    return await this.post(shared, prepRes, execRes);
  }

  /**
   * Runs this node alone (successors are not followed: use a {@link throttleflow!Flow} for that).
   * With a `signal`, the run works on a copy that carries it (as flows copy every node they
   * visit), so concurrent runs of one node or flow each keep their own signal.
   */
  async run(shared: S, options: RunOptions = {}): Promise<Action | undefined> {
    if (this._successors.size > 0) console.warn("Node won't run successors. Use Flow.");
    throwIfAborted(options.signal);
    if (!options.signal) return await this._run(shared);
    const copy = this.clone();
    copy.signal = options.signal;
    return await copy._run(shared);
  }

  /**
   * A shallow copy for one visit, so concurrent runs do not share per-run fields (params,
   * retry counters). Objects the node holds by reference (limiters, stats) stay shared.
   */
  clone(): this {
    const copy = Object.create(Object.getPrototypeOf(this)) as this;
    Object.assign(copy, this);
    copy._params = { ...this._params };
    // Most nodes have no successors: an empty map is made without iterating one (a copy per visit, big batches).
    copy._successors = this._successors.size === 0 ? new Map() : new Map(this._successors);
    return copy;
  }
}
