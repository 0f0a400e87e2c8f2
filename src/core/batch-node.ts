import { Node } from './node';
import type { Action, Params } from './types';

/**
 * A node whose `prep` returns an array; `exec` runs once per item, one after another, each with
 * its own retries, and `post` receives the results in item order.
 * A `prep` that returns no array yields `[]`, as in pocketflow.
 * @category PocketFlow core
 */
export class BatchNode<S = unknown, P extends object = Params, Item = unknown, Result = unknown> extends Node<
  S,
  P,
  unknown,
  unknown
> {
  override async prep(_shared: S): Promise<Item[] | undefined> {
    return undefined;
  }

  override async exec(_item: Item): Promise<Result> {
    return undefined as Result;
  }

  override async post(_shared: S, _items: Item[], _results: Result[]): Promise<Action | undefined> {
    return undefined;
  }

  override async execFallback(_item: Item, error: Error): Promise<Result> {
    throw error;
  }

  override async _exec(items: unknown): Promise<unknown> {
    if (!Array.isArray(items)) return [];
    const results: unknown[] = [];
    for (const item of items) results.push(await super._exec(item));
    return results;
  }
}

/** A {@link BatchNode} that runs `exec` for all items at once (`Promise.all`); results keep item order. @category PocketFlow core */
export class ParallelBatchNode<
  S = unknown,
  P extends object = Params,
  Item = unknown,
  Result = unknown,
> extends BatchNode<S, P, Item, Result> {
  override async _exec(items: unknown): Promise<unknown> {
    if (!Array.isArray(items)) return [];
    return Promise.all(items.map((item) => Node.prototype._exec.call(this, item)));
  }
}
