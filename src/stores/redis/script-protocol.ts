import type { AttemptResult, DenyReason, IndexedAdjustment } from './backend-types';
import type { BatchArgs, BatchReply } from './call-batcher';
import type { LimiterKeys, WindowKeyParts } from './keys';
import type { RedisCalls } from './redis-calls';
import type { ScriptArg } from './script-runner';

/**
 * Argument and reply layouts of the batched `acquire` and `release` scripts (scripts/*.lua): one
 * script call carries a header, then every request's part; the reply holds Redis time, then every
 * request's answer. Kept apart from the backend so the layout lives next to nothing else.
 */

/** A batch's send: every request's part in, every request's answer out (one script call). */
export type BatchSend = (requests: BatchArgs[]) => Promise<BatchReply[]>;

/** Values per request in an acquire reply: granted, waitMs, reason, window (1-based, 0 = none). */
const ACQUIRE_REPLY_WIDTH = 4;

/** Each window's log and sum keys, in the order every script reads them (two keys per window). */
export function windowKeysOf(keys: LimiterKeys, windows: readonly WindowKeyParts[]): string[] {
  return windows.flatMap((w) => [keys.windowLog(w), keys.windowSum(w)]);
}

/** One acquire request: lease id, concurrency limit (-1 = none), then limit and cost per window. */
export function encodeAcquire(
  leaseId: string,
  maxConcurrent: number | undefined,
  limits: readonly number[],
  costs: readonly number[],
): BatchArgs {
  const args: ScriptArg[] = [
    leaseId,
    maxConcurrent === undefined || !Number.isFinite(maxConcurrent) ? -1 : maxConcurrent,
  ];
  for (let i = 0; i < limits.length; i++) args.push(limits[i]!, costs[i] ?? 0);
  return args;
}

/** One request's answer from {@link acquireSender} as an {@link AttemptResult}. */
export function decodeAttempt(reply: BatchReply, leaseId: string): AttemptResult {
  const [startedAt, granted, waitMs, reason, window] = reply as [number, number, number, string, number];
  if (granted === 1) return { granted: true, leaseId, startedAt };
  const why = (reason === 'pause' ? 'paused' : reason) as DenyReason;
  return window
    ? { granted: false, waitMs, reason: why, window: window - 1 }
    : { granted: false, waitMs, reason: why };
}

/** Sends acquire batches for one limiter's windows: header is TTL, window lengths, request count. */
export function acquireSender(
  calls: RedisCalls,
  keys: LimiterKeys,
  windows: readonly WindowKeyParts[],
  leaseTtlMs: number,
): BatchSend {
  const scriptKeys = [keys.leases, keys.pause, keys.waiting, keys.extend, ...windowKeysOf(keys, windows)];
  const lengths = windows.map((w) => w.windowMs);
  return async (requests) => {
    const args: ScriptArg[] = [leaseTtlMs, lengths.length, ...lengths, requests.length];
    for (const r of requests) for (const a of r) args.push(a);
    const reply = (await calls.script('acquire', scriptKeys, args)) as [string, ...(number | string)[]];
    const now = Number(reply[0]);
    const w = ACQUIRE_REPLY_WIDTH;
    return requests.map((_, i) => [
      now,
      Number(reply[1 + i * w]),
      Number(reply[2 + i * w]),
      String(reply[3 + i * w]),
      Number(reply[4 + i * w]),
    ]);
  };
}

/**
 * One release request: lease id, start, arrival lag (0 = none), the number of reconciles, then
 * window (1-based), charged and delta per reconcile.
 */
export function encodeRelease(
  leaseId: string,
  startedAt: number,
  arrivalLagMs: number,
  adjustments: readonly IndexedAdjustment[] | undefined,
): BatchArgs {
  const lag = arrivalLagMs > 0 && Number.isFinite(arrivalLagMs) ? arrivalLagMs : 0;
  const args: ScriptArg[] = [leaseId, startedAt, lag, 0];
  let n = 0;
  if (adjustments) {
    for (const a of adjustments) {
      // Without a lag, an unchanged charge needs nothing; with one, every charge moves.
      if (a.delta === 0 && (lag === 0 || !(a.charged > 0))) continue;
      n++;
      args.push(a.index + 1, a.charged, a.delta);
    }
  }
  args[3] = n;
  return args;
}

/** Sends release batches for one limiter's windows: header is channel, window lengths, request count. */
export function releaseSender(
  calls: RedisCalls,
  keys: LimiterKeys,
  windows: readonly WindowKeyParts[],
): BatchSend {
  const scriptKeys = [keys.leases, keys.waiting, keys.extend, ...windowKeysOf(keys, windows)];
  const lengths = windows.map((w) => w.windowMs);
  return async (requests) => {
    const args: ScriptArg[] = [keys.releasedChannel, lengths.length, ...lengths, requests.length];
    for (const r of requests) for (const a of r) args.push(a);
    const reply = (await calls.script('release', scriptKeys, args)) as [string, ...number[]];
    const now = Number(reply[0]);
    // Per request: 1 when the lease was still held (freed now), 0 when it had already expired.
    return requests.map((_, i) => [now, Number(reply[1 + i])]);
  };
}
