/** The name of an edge between nodes; `'default'` when a node's `post` returns nothing. @category PocketFlow core */
export type Action = string;

/** Per-run parameters a flow hands to its nodes (merged from the enclosing flows). @category PocketFlow core */
export type Params = Record<string, unknown>;

/** Options for {@link BaseNode.run}. @category PocketFlow core */
export interface RunOptions {
  /**
   * Cancels the run: a flow stops before its next node, retries stop waiting, and nodes can
   * pass `this.signal` to the calls they make so those are cancelled too.
   * @default undefined (not cancellable)
   */
  signal?: AbortSignal;
}
