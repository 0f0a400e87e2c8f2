import { throwIfAborted } from './abort';
import { Flow } from './flow';
import type { Action, Params } from './types';

/**
 * Runs its whole sub-flow once per param object that `prep` returns, one after another; each
 * run sees the flow's params merged with that object. A `prep` that returns `undefined` or
 * `[]` runs nothing.
 * @category PocketFlow core
 */
export class BatchFlow<
  S = unknown,
  P extends object = Params,
  BatchParams extends object = Params,
> extends Flow<S, P> {
  override async prep(_shared: S): Promise<BatchParams[] | undefined> {
    return [];
  }

  /** By default a batch flow ends with no action, as in pocketflow. */
  override async post(_shared: S, _prepRes: BatchParams[], _execRes: undefined): Promise<Action | undefined> {
    return undefined;
  }

  override async _run(shared: S): Promise<Action | undefined> {
    const batch = (await this.prep(shared)) ?? [];
    for (const bp of batch) {
      throwIfAborted(this.signal);
      await this._orchestrate(shared, { ...this._params, ...bp });
    }
    return await this.post(shared, batch, undefined);
  }
}

/** A {@link BatchFlow} that runs all sub-flows at once. @category PocketFlow core */
export class ParallelBatchFlow<
  S = unknown,
  P extends object = Params,
  BatchParams extends object = Params,
> extends BatchFlow<S, P, BatchParams> {
  override async _run(shared: S): Promise<Action | undefined> {
    const batch = (await this.prep(shared)) ?? [];
    await Promise.all(batch.map((bp) => this._orchestrate(shared, { ...this._params, ...bp })));
    return await this.post(shared, batch, undefined);
  }
}
