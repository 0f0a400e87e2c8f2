/**
 * One abort listener per run on each of its signals, however many items the run has: each item
 * that needs a signal takes a child of its own, which aborts when any parent does. Node warns
 * (`MaxListenersExceededWarning`) past 10 listeners on one signal, and its duplicate check makes
 * each `addEventListener` cost as much as the listeners already there, so a signal shared by
 * thousands of waiters is both noisy and quadratic.
 * @internal
 */
export class AbortFanOut {
  private readonly children = new Set<AbortController>();
  private readonly parents: AbortSignal[];
  /** Released children not aborted, handed out again (only with `reuse`). */
  private readonly spare: AbortController[] = [];
  private abortedBy: AbortSignal | undefined;
  private readonly onAbort = (event: Event): void => this.abortAll(event.target as AbortSignal);

  /**
   * @param parents - the run's signals (`undefined` ones are skipped)
   * @param reuse - hand a released child out again. Only for children whose every listener is
   * gone when they are released, such as signals only a limiter's acquire saw (it removes its
   * listener when the acquire settles): making an `AbortController` costs microseconds, a
   * measurable share of a no-op sub-flow.
   */
  constructor(
    parents: readonly (AbortSignal | undefined)[],
    private readonly reuse = false,
  ) {
    this.parents = parents.filter((s): s is AbortSignal => s !== undefined);
    for (const parent of this.parents) {
      if (parent.aborted) {
        this.abortedBy ??= parent;
        continue;
      }
      parent.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  /** Whether any parent has aborted. */
  get aborted(): boolean {
    return this.abortedBy !== undefined;
  }

  /** A signal that aborts with the first parent's reason; `undefined` when there is no parent. */
  child(): AbortController | undefined {
    if (this.parents.length === 0) return undefined;
    if (this.abortedBy) {
      const aborted = new AbortController();
      aborted.abort(this.abortedBy.reason);
      return aborted;
    }
    const controller = this.spare.pop() ?? new AbortController();
    this.children.add(controller);
    return controller;
  }

  /** The child is no longer used: it is not aborted later (and, with `reuse`, may be handed out again). */
  release(controller: AbortController | undefined): void {
    if (!controller || !this.children.delete(controller)) return;
    if (this.reuse && !controller.signal.aborted) this.spare.push(controller);
  }

  /** Ends the run: the listeners on the parents are removed. */
  dispose(): void {
    for (const parent of this.parents) parent.removeEventListener('abort', this.onAbort);
    this.children.clear();
    this.spare.length = 0;
  }

  private abortAll(parent: AbortSignal): void {
    if (this.abortedBy) return;
    this.abortedBy = parent;
    const children = [...this.children];
    this.children.clear();
    for (const child of children) child.abort(parent.reason);
  }
}
