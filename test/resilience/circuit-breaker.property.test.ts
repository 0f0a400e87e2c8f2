import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/testing/fake-clock';
import { CircuitBreaker, type CircuitState } from '../../src/resilience/index';
import { deferred, httpError, outcome, type Deferred } from './helpers';

/**
 * The breaker's contract written as plainly as possible, with sequential bookkeeping instead of
 * generations: a call's result counts only if the call is still in `counted`, which every state
 * change empties.
 */
class ReferenceBreaker {
  state: CircuitState = 'closed';
  isolated = false;
  private openedAt = 0;
  private failuresInARow = 0;
  private readonly counted = new Set<number>();
  private readonly trials = new Set<number>();

  constructor(
    private readonly threshold: number,
    private readonly halfOpenAfterMs: number,
    private readonly maxTrials: number,
  ) {}

  observe(now: number): CircuitState {
    if (this.state === 'open' && !this.isolated && now >= this.openedAt + this.halfOpenAfterMs) {
      this.enter('half-open');
    }
    return this.state;
  }

  /** Whether call `id` is let through. */
  admit(id: number, now: number): boolean {
    const state = this.observe(now);
    if (state === 'closed') {
      this.counted.add(id);
      return true;
    }
    if (state === 'half-open' && this.trials.size < this.maxTrials) {
      this.counted.add(id);
      this.trials.add(id);
      return true;
    }
    return false;
  }

  settle(id: number, result: 'ok' | 'fail' | 'rate-limited', now: number): void {
    if (!this.counted.delete(id)) return;
    const trial = this.trials.delete(id);
    if (result === 'rate-limited') return;
    if (trial) {
      if (result === 'ok') this.close();
      else this.openAt(now);
      return;
    }
    if (result === 'ok') this.failuresInARow = 0;
    else if (++this.failuresInARow >= this.threshold) this.openAt(now);
  }

  isolate(now: number): void {
    this.isolated = true;
    this.openAt(now);
  }

  reset(): void {
    this.isolated = false;
    this.close();
  }

  private close(): void {
    this.failuresInARow = 0;
    this.enter('closed');
  }

  private openAt(now: number): void {
    this.openedAt = now;
    this.enter('open');
  }

  private enter(state: CircuitState): void {
    this.state = state;
    this.counted.clear();
    this.trials.clear();
  }
}

type Op =
  | { kind: 'start' }
  | { kind: 'settle'; pick: number; result: 'ok' | 'fail' | 'rate-limited' }
  | { kind: 'advance'; ms: number | 'halfOpenAfterMs' }
  | { kind: 'isolate' }
  | { kind: 'reset' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: fc.constant<Op>({ kind: 'start' }) },
  {
    weight: 15,
    arbitrary: fc.record({
      kind: fc.constant('settle' as const),
      // Counted back from the newest call: recent calls matter, old ones are mostly stale.
      pick: fc.nat({ max: 4 }),
      result: fc.constantFrom('ok' as const, 'fail' as const, 'fail' as const, 'rate-limited' as const),
    }),
  },
  {
    weight: 9,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      // Exactly the delay hits the boundary of the open → half-open move.
      ms: fc.oneof(fc.integer({ min: 0, max: 1500 }), fc.constant('halfOpenAfterMs' as const)),
    }),
  },
  // Rare: an isolation holds the circuit open until the next reset.
  { weight: 3, arbitrary: fc.constant<Op>({ kind: 'reset' }) },
  { weight: 1, arbitrary: fc.constant<Op>({ kind: 'isolate' }) },
);

describe('CircuitBreaker state machine (property)', () => {
  it('matches the reference model under random calls, outcomes, time steps and manual control', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(opArb, { minLength: 20, maxLength: 100, size: 'max' }),
        async (threshold, halfOpenAfterMs, halfOpenMaxCalls, ops) => {
          const clock = new FakeClock();
          const breaker = new CircuitBreaker({
            consecutiveFailures: threshold,
            halfOpenAfterMs,
            halfOpenMaxCalls,
            clock,
          });
          const model = new ReferenceBreaker(threshold, halfOpenAfterMs, halfOpenMaxCalls);
          let lastTo: CircuitState = 'closed';
          breaker.on('stateChange', ({ from, to }) => {
            // Events form a chain: each change starts where the previous one ended.
            expect(from).toBe(lastTo);
            expect(to).not.toBe(from);
            lastTo = to;
          });
          const inFlight: { id: number; gate: Deferred<string>; done: Promise<unknown> }[] = [];
          let nextId = 0;

          for (const op of ops) {
            switch (op.kind) {
              case 'start': {
                const id = nextId++;
                const gate = deferred<string>();
                let called = false;
                const done = outcome(
                  breaker.run(() => {
                    called = true;
                    return gate.promise;
                  }),
                );
                const admitted = model.admit(id, clock.now());
                expect(called).toBe(admitted);
                if (admitted) inFlight.push({ id, gate, done });
                else expect((await done).ok).toBe(false);
                break;
              }
              case 'settle': {
                if (inFlight.length === 0) break;
                const [call] = inFlight.splice(Math.max(0, inFlight.length - 1 - op.pick), 1);
                if (op.result === 'ok') call!.gate.resolve('ok');
                else call!.gate.reject(op.result === 'fail' ? httpError(503) : httpError(429));
                await call!.done;
                model.settle(call!.id, op.result, clock.now());
                break;
              }
              case 'advance':
                await clock.advance(op.ms === 'halfOpenAfterMs' ? halfOpenAfterMs : op.ms);
                break;
              case 'isolate':
                breaker.isolate();
                model.isolate(clock.now());
                break;
              case 'reset':
                breaker.reset();
                model.reset();
                break;
            }
            expect(breaker.state).toBe(model.observe(clock.now()));
            expect(breaker.isolated).toBe(model.isolated);
            expect(lastTo).toBe(breaker.state);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
