import { z } from 'zod';
import { opt, parseOptions, InvalidOptionError, formatValue } from '../validation/options';
import { delay, throwIfAborted } from './abort';
import { BaseNode } from './base-node';
import type { Action, Params } from './types';

/** Options of a {@link Node} (the object form of `new Node(maxRetries, wait)`). @category PocketFlow core */
export interface NodeOptions {
  /**
   * How many times `exec` is tried before `execFallback` runs (1 = no retry).
   * @default 1
   */
  maxRetries?: number;
  /**
   * Milliseconds to wait between tries.
   * @default 0
   */
  waitMs?: number;
}

const nodeOptionsSchema = z.strictObject({
  maxRetries: opt.positiveInt().optional(),
  waitMs: opt.nonNegativeNumber().optional(),
});

/** Resolves both constructor forms to `{ maxRetries, waitSeconds }`, validating every value. */
export function resolveNodeOptions(
  maxRetriesOrOptions: number | NodeOptions | undefined,
  wait: number | undefined,
  subject: string,
): { maxRetries: number; wait: number } {
  if (typeof maxRetriesOrOptions === 'object' && maxRetriesOrOptions !== null) {
    const o = parseOptions(nodeOptionsSchema, maxRetriesOrOptions, subject);
    return { maxRetries: o.maxRetries ?? 1, wait: (o.waitMs ?? 0) / 1000 };
  }
  const maxRetries = maxRetriesOrOptions ?? 1;
  const waitSeconds = wait ?? 0;
  if (!Number.isInteger(maxRetries) || maxRetries < 1) {
    throw new InvalidOptionError(
      'maxRetries',
      `maxRetries must be a positive integer, got ${formatValue(maxRetries)}`,
    );
  }
  if (typeof waitSeconds !== 'number' || !(waitSeconds >= 0) || !Number.isFinite(waitSeconds)) {
    throw new InvalidOptionError(
      'wait',
      `wait must be a non-negative number of seconds, got ${formatValue(waitSeconds)}`,
    );
  }
  return { maxRetries, wait: waitSeconds };
}

/**
 * A node whose `exec` is retried: up to `maxRetries` tries with `wait` seconds between them,
 * then `execFallback(prepRes, error)` (which rethrows by default).
 *
 * @typeParam S - shared state
 * @typeParam P - params
 * @typeParam PrepRes - what `prep` returns and `exec` receives
 * @typeParam ExecRes - what `exec` returns and `post` receives
 *
 * @example
 * class Summarise extends Node<{ text: string; summary?: string }> {
 *   async prep(shared) { return shared.text; }
 *   async exec(text: string) { return callLlm(`Summarise: ${text}`); }
 *   async post(shared, _p, summary: string) { shared.summary = summary; return 'default'; }
 * }
 * await new Summarise(3, 1).run({ text: '…' }); // 3 tries, 1 s apart
 * @category PocketFlow core
 */
export class Node<
  S = unknown,
  P extends object = Params,
  PrepRes = unknown,
  ExecRes = unknown,
> extends BaseNode<S, P> {
  maxRetries: number;
  /** Seconds between tries (pocketflow's unit). */
  wait: number;
  /** The zero-based try in progress, readable from `exec`. */
  currentRetry = 0;

  /**
   * @param maxRetries - tries of `exec` (≥ 1), or an options object `{ maxRetries, waitMs }`
   * @param wait - seconds between tries (pocketflow's positional form)
   */
  constructor(maxRetries?: number | NodeOptions, wait?: number) {
    super();
    const resolved = resolveNodeOptions(maxRetries, wait, new.target.name || 'Node');
    this.maxRetries = resolved.maxRetries;
    this.wait = resolved.wait;
  }

  override async prep(_shared: S): Promise<PrepRes> {
    return undefined as PrepRes;
  }

  override async exec(_prepRes: PrepRes): Promise<ExecRes> {
    return undefined as ExecRes;
  }

  override async post(_shared: S, _prepRes: PrepRes, _execRes: ExecRes): Promise<Action | undefined> {
    return undefined;
  }

  /** Called with the last error once every try has failed; rethrows unless overridden. */
  async execFallback(_prepRes: PrepRes, error: Error): Promise<ExecRes> {
    throw error;
  }

  override async _exec(prepRes: unknown): Promise<unknown> {
    // A local counter: parallel items share this node, and a shared one (as in pocketflow) lets
    // one item's retries end another item's loop early with a silent `undefined`.
    for (let attempt = 0; ; attempt++) {
      this.currentRetry = attempt;
      try {
        return await this.exec(prepRes as PrepRes);
      } catch (error) {
        // Negated so that a maxRetries assigned as NaN/undefined ends the loop instead of retrying forever.
        if (!(attempt < this.maxRetries - 1))
          return await this.execFallback(prepRes as PrepRes, error as Error);
        throwIfAborted(this.signal);
        if (this.wait > 0) await delay(this.wait * 1000, this.signal);
      }
    }
  }
}
