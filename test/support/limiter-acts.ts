import fc from 'fast-check';
import { expect } from 'vitest';
import type { FakeClock } from '../../src/testing/fake-clock';
import { Limiter } from '../../src/limits/limiter';
import type { MemoryStore } from '../../src/stores/memory-store';
import type { Store } from '../../src/stores/store';

/** One acquire of a limiter property test: made at `at`, holding its lease `durationMs` once granted. */
export interface AcquireAct {
  kind: 'acquire';
  at: number;
  tokens: number;
  priority: number;
  durationMs: number;
  timeoutMs?: number;
  abortAfterMs?: number;
}

/** One thing a limiter property test does at fake time `at`: an acquire, a `setMaxConcurrent(to)` or a `pause(ms)`. */
export type LimiterAct<A extends AcquireAct = AcquireAct> =
  A | { kind: 'resize'; at: number; to: number } | { kind: 'pause'; at: number; ms: number };

/** Upper bounds (all lower bounds are 0, or 1 for `resizeTo`/`pauseMs`) and how often an acquire comes against one resize or one pause. */
export interface LimiterActsOptions {
  atMax: number;
  durationMsMax: number;
  timeoutMsMax: number;
  abortAfterMsMax: number;
  resizeToMax: number;
  pauseMsMax: number;
  acquireWeight: number;
  /** Each acquire also carries a request `cost` from 0 to this. */
  costMax?: number;
}

/**
 * Random limiter acts: acquires of 0–60 tokens at priority 0 or 1, with or without a timeout and an
 * abort, and now and then a resize or a pause.
 */
export function limiterActs(
  options: LimiterActsOptions & { costMax: number },
): fc.Arbitrary<LimiterAct<AcquireAct & { cost: number }>>;
export function limiterActs(options: LimiterActsOptions): fc.Arbitrary<LimiterAct>;
export function limiterActs(
  options: LimiterActsOptions,
): fc.Arbitrary<LimiterAct<AcquireAct & { cost?: number }>> {
  const at = fc.integer({ min: 0, max: options.atMax });
  const withCost = options.costMax !== undefined;
  const acquire = fc.record(
    {
      kind: fc.constant('acquire' as const),
      at,
      ...(withCost ? { cost: fc.integer({ min: 0, max: options.costMax }) } : {}),
      tokens: fc.integer({ min: 0, max: 60 }),
      priority: fc.integer({ min: 0, max: 1 }),
      durationMs: fc.integer({ min: 0, max: options.durationMsMax }),
      timeoutMs: fc.integer({ min: 0, max: options.timeoutMsMax }),
      abortAfterMs: fc.integer({ min: 0, max: options.abortAfterMsMax }),
    },
    {
      requiredKeys: [
        'kind',
        'at',
        ...(withCost ? (['cost'] as const) : []),
        'tokens',
        'priority',
        'durationMs',
      ],
    },
  );
  return fc.oneof(
    { weight: options.acquireWeight, arbitrary: acquire },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('resize' as const),
        at,
        to: fc.integer({ min: 1, max: options.resizeToMax }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('pause' as const),
        at,
        ms: fc.integer({ min: 1, max: options.pauseMsMax }),
      }),
    },
  );
}

/** The limiter these tests drive: `perWindow` requests and `tokenLimit` tokens per `windowMs`, no window margin. */
export function actsLimiter(
  clock: FakeClock,
  store: Store,
  maxConcurrent: number,
  perWindow: number,
  windowMs: number,
  tokenLimit: number,
): Limiter {
  return new Limiter({
    clock,
    store,
    maxConcurrent,
    maxPerWindow: perWindow,
    windowMs,
    windows: [{ resource: 'tokens', limit: tokenLimit, windowMs }],
    windowMarginMs: 0,
    // The acts report 429s while windows have room on purpose; the warning would only be noise.
    warnings: false,
  });
}

/** What the resizes and pauses of a run have done so far, for the acquires' checks. */
export interface ActsRun {
  /** The concurrency limit set last (the limiter's own until the first resize). */
  limit: number;
  /** Each pause as [from, until). */
  pauses: [number, number][];
}

/**
 * Plays `acts` on the fake clock in the order of `at`: a resize or a pause goes to the limiter, an
 * acquire to `acquire` (which starts it and does not wait); then runs every timer out.
 */
export async function runLimiterActs<A extends AcquireAct>(
  clock: FakeClock,
  limiter: Pick<Limiter, 'setMaxConcurrent' | 'pause'>,
  maxConcurrent: number,
  acts: readonly LimiterAct<A>[],
  acquire: (act: A, run: ActsRun) => void,
): Promise<void> {
  const run: ActsRun = { limit: maxConcurrent, pauses: [] };
  for (const a of [...acts].sort((p, q) => p.at - q.at)) {
    await clock.advanceTo(a.at);
    if (a.kind === 'resize') {
      limiter.setMaxConcurrent(a.to);
      run.limit = a.to;
    } else if (a.kind === 'pause') {
      limiter.pause(a.ms);
      run.pauses.push([clock.now(), clock.now() + a.ms]);
    } else {
      acquire(a, run);
    }
    await clock.advance(0);
  }
  for (let guard = 0; guard < 5000 && clock.nextDueAt !== undefined; guard++)
    await clock.advanceTo(clock.nextDueAt);
  await clock.advance(0);
}

/**
 * Every half-open window [t, t + windowMs) that begins at a start, above `perWindow` requests (a
 * start's `cost`, 1 without one) or `tokenLimit` tokens: one line each, in the order of `starts`.
 */
export function windowOverfills(
  starts: readonly { at: number; cost?: number; tokens: number }[],
  windowMs: number,
  perWindow: number,
  tokenLimit: number,
): string[] {
  const problems: string[] = [];
  for (const s of starts) {
    const inside = starts.filter((o) => o.at >= s.at && o.at < s.at + windowMs);
    const requests = inside.reduce((sum, o) => sum + (o.cost ?? 1), 0);
    if (requests > perWindow) problems.push(`${requests} requests in [${s.at}, ${s.at + windowMs})`);
    const tokens = inside.reduce((sum, o) => sum + o.tokens, 0);
    if (tokens > tokenLimit) problems.push(`${tokens} tokens in [${s.at}, ${s.at + windowMs})`);
  }
  return problems;
}

/** After a run: no timer left, nothing active or queued in the limiter, no slot left taken in `store` (the memory store behind the limiter's). */
export function expectNothingLeft(clock: FakeClock, limiter: Limiter, store: MemoryStore): void {
  // No timer left (checked first: stats() on a store that answers later starts a store call, i.e. a sleep).
  expect(clock.pendingSleeps).toBe(0);
  expect(limiter.stats()).toMatchObject({ active: 0, queued: 0 });
  expect(store.bind('limiter', limiter.windows).snapshot(clock.now()).active).toBe(0);
}
