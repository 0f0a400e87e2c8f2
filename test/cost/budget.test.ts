import { describe, expect, it } from 'vitest';
import {
  Budget,
  BudgetExceededError,
  costOf,
  isBudgetExceededError,
  PriceTable,
  UnknownModelError,
  type BudgetReservation,
} from '../../src/cost';
import { InvalidOptionError } from '../../src/validation/options';

const DAY_MS = 86_400_000;

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('Budget options', () => {
  it.each([
    [{ maxUsd: -1 }, 'maxUsd must be a positive number, got -1'],
    [{ maxUsd: 0 }, 'maxUsd must be a positive number, got 0'],
    [{ maxTokens: 1.5 }, 'maxTokens must be a positive integer, got 1.5'],
    [{ period: 'week' }, "period must be one of 'run', 'day', got 'week'"],
    [{ wallClock: 5 }, 'wallClock must be a function, got 5'],
    [{ prices: {} }, 'prices must be a PriceTable, got {}'],
  ])('%j → %s', (options, message) => {
    expect(() => new Budget(options as never)).toThrow(message);
    expect(() => new Budget(options as never)).toThrow(InvalidOptionError);
  });

  it('names an unknown option', () => {
    expect(() => new Budget({ maxUSD: 1 } as never)).toThrow(
      /Budget: unknown option 'maxUSD' \(did you mean 'maxUsd'\?\)/,
    );
  });

  it('validates tenant caps with the tenant in the message', () => {
    expect(() => new Budget().forTenant('acme', { maxUsd: -2 })).toThrow(
      'maxUsd must be a positive number, got -2',
    );
    expect(() => new Budget().forTenant('acme', { maxUsd: 1, wallClock: Date.now } as never)).toThrow(
      /Budget.forTenant\('acme'\): unknown option 'wallClock'/,
    );
    expect(() => new Budget().forTenant('')).toThrow(/non-empty string/);
  });
});

describe('a $0.01 run budget', () => {
  it('stops a pipeline before the call that would pass the cap, and the error says spent vs cap', async () => {
    const budget = new Budget({ maxUsd: 0.01 });
    let calls = 0;
    const callLlm = async () => {
      calls++;
      return { usd: 0.0031 }; // each call really costs a bit more than estimated
    };
    const step = async () => {
      const reservation = await budget.reserve({ usd: 0.0021 });
      try {
        reservation.settle(await callLlm());
      } finally {
        reservation.cancel();
      }
    };

    await step();
    await step();
    await step();
    const error = await rejection(step());
    expect(calls).toBe(3);
    expect(isBudgetExceededError(error)).toBe(true);
    expect((error as Error).message).toBe('Budget exceeded: spent $0.0093 + estimated $0.0021 > cap $0.0100');
    expect(error).toMatchObject({
      dimension: 'usd',
      spent: 0.0093,
      estimated: 0.0021,
      cap: 0.01,
      reserved: 0,
      period: 'run',
    });
    expect(budget.stats()).toMatchObject({
      spentUsd: expect.closeTo(0.0093, 12),
      reservedUsd: 0,
      remainingUsd: expect.closeTo(0.0007, 12),
      refusals: 1,
    });
  });

  it('prices estimates and actuals from { model, usage } with the price table', async () => {
    const budget = new Budget({ maxUsd: 0.01 });
    const estimate = { model: 'gpt-4o', usage: { inputTokens: 1000, outputTokens: 500 } }; // $0.0075
    const r = await budget.reserve(estimate);
    expect(r.estimate.usd).toBeCloseTo(0.0075, 12);
    expect(r.estimate.tokens).toBe(1500);
    r.settle({ model: 'gpt-4o-2024-08-06', usage: { prompt_tokens: 1000, completion_tokens: 200 } }); // $0.0045
    expect(budget.stats().spentUsd).toBeCloseTo(0.0045, 12);
    expect(budget.stats().spentTokens).toBe(1200);
    await expect(budget.reserve(estimate)).rejects.toThrow(
      'Budget exceeded: spent $0.0045 + estimated $0.0075 > cap $0.0100',
    );
  });

  it('counts reservations in flight against the cap and names them in the message', async () => {
    const budget = new Budget({ maxUsd: 0.01 });
    const first = await budget.reserve({ usd: 0.006 });
    await expect(budget.reserve({ usd: 0.005 })).rejects.toThrow(
      'Budget exceeded: spent $0.0000 + reserved $0.0060 + estimated $0.0050 > cap $0.0100',
    );
    first.cancel();
    const second = await budget.reserve({ usd: 0.005 });
    expect(budget.stats()).toMatchObject({ spentUsd: 0, reservedUsd: 0.005, remainingUsd: 0.005 });
    second.settle();
    expect(budget.stats()).toMatchObject({ spentUsd: 0.005, reservedUsd: 0 });
  });

  it('allows spending up to the cap exactly, despite float rounding', async () => {
    const budget = new Budget({ maxUsd: 0.3 });
    (await budget.reserve({ usd: 0.1 })).settle();
    (await budget.reserve({ usd: 0.2 })).settle();
    expect(budget.stats().remainingUsd).toBe(0);
    await expect(budget.reserve({ usd: 0.0001 })).rejects.toThrow(BudgetExceededError);
    await expect(budget.reserve({ usd: 0 })).resolves.toBeDefined();
  });

  it('lets calls in flight finish past the cap, then refuses new ones', async () => {
    const budget = new Budget({ maxUsd: 0.01 });
    const inFlight = await Promise.all([budget.reserve({ usd: 0.004 }), budget.reserve({ usd: 0.004 })]);
    for (const r of inFlight) r.settle({ usd: 0.007 });
    expect(budget.stats()).toMatchObject({ spentUsd: 0.014, reservedUsd: 0, remainingUsd: 0 });
    await expect(budget.reserve({ usd: 0.0001 })).rejects.toThrow(
      /spent \$0.0140 \+ estimated \$0.0001 > cap \$0.0100/,
    );
  });
});

describe('reservations', () => {
  it('cancel releases the hold and is a no-op after settle; settle twice throws', async () => {
    const budget = new Budget({ maxTokens: 100 });
    const r = await budget.reserve({ tokens: 60 });
    expect(r.state).toBe('open');
    r.settle({ tokens: 50 });
    r.cancel();
    expect(r.state).toBe('settled');
    expect(() => r.settle({ tokens: 1 })).toThrow(
      'Cannot settle a budget reservation that is already settled',
    );
    expect(budget.stats()).toMatchObject({ spentTokens: 50, reservedTokens: 0, remainingTokens: 50 });
    const c = await budget.reserve({ tokens: 50 });
    c.cancel();
    expect(c.state).toBe('cancelled');
    expect(() => c.settle()).toThrow(/already cancelled/);
    expect(budget.stats()).toMatchObject({ spentTokens: 50, reservedTokens: 0 });
  });

  it('`using` cancels an unsettled reservation at scope exit', async () => {
    const budget = new Budget({ maxUsd: 1 });
    {
      using r = await budget.reserve({ usd: 0.5 });
      expect(budget.stats().reservedUsd).toBe(0.5);
      expect(r.state).toBe('open');
    }
    expect(budget.stats().reservedUsd).toBe(0);
    expect(budget.stats().spentUsd).toBe(0);
  });

  it('a token cap refuses with a token message', async () => {
    const budget = new Budget({ maxTokens: 10_000 });
    (await budget.reserve({ tokens: 9300 })).settle();
    await expect(budget.reserve({ tokens: 2100 })).rejects.toThrow(
      'Budget exceeded: spent 9,300 tokens + estimated 2,100 tokens > cap 10,000 tokens',
    );
  });

  it('refuses an estimate that lacks the capped dimension instead of counting it as zero', async () => {
    const budget = new Budget({ maxUsd: 1 });
    await expect(budget.reserve({ tokens: 100 })).rejects.toThrow(/reserve\(estimate\) needs usd .*maxUsd 1/);
    const r = await budget.reserve({ usd: 0.1 });
    expect(() => r.settle({ tokens: 5 })).toThrow(/settle\(actual\) needs usd/);
    expect(r.state).toBe('open');
  });

  it('leaves the reservation open when the actual names an unknown model', async () => {
    const budget = new Budget({ maxUsd: 1 });
    const r = await budget.reserve({ usd: 0.1 });
    expect(() => r.settle({ model: 'no-such-model', usage: { inputTokens: 1 } })).toThrow(UnknownModelError);
    expect(r.state).toBe('open');
    expect(budget.stats().reservedUsd).toBe(0.1);
  });

  it('validates amounts', async () => {
    const budget = new Budget();
    await expect(budget.reserve({ usd: -1 })).rejects.toThrow(
      'estimate.usd must be a non-negative number, got -1',
    );
    await expect(budget.reserve({ usd: Number.NaN })).rejects.toThrow(
      /estimate.usd must be a non-negative number, got NaN/,
    );
    await expect(budget.reserve({ dollars: 1 } as never)).rejects.toThrow(/unknown field 'dollars'/);
  });

  it('uses the budget’s own price table', async () => {
    const prices = new PriceTable({
      house: { inputUsdPerMillion: 1000, outputUsdPerMillion: 1000, contextWindowTokens: 1000 },
    });
    const budget = new Budget({ maxUsd: 1, prices });
    const r = await budget.reserve({ model: 'house', usage: { inputTokens: 500 } });
    expect(r.estimate.usd).toBeCloseTo(costOf('house', { inputTokens: 500 }, prices), 12);
    await expect(budget.reserve({ model: 'gpt-4o', usage: { inputTokens: 1 } })).rejects.toThrow(
      UnknownModelError,
    );
  });
});

describe('daily budgets', () => {
  it('reset at UTC midnight of the injected wall clock, and the error says when', async () => {
    let now = Date.UTC(2025, 0, 1, 23, 0);
    const budget = new Budget({ maxUsd: 1, period: 'day', wallClock: () => now });
    (await budget.reserve({ usd: 0.9 })).settle();
    expect(budget.stats().periodStartMs).toBe(Date.UTC(2025, 0, 1));

    now = Date.UTC(2025, 0, 1, 23, 59, 59, 999);
    const error = await rejection(budget.reserve({ usd: 0.2 }));
    expect(error).toBeInstanceOf(BudgetExceededError);
    expect((error as BudgetExceededError).resetsAtMs).toBe(Date.UTC(2025, 0, 2));
    expect((error as Error).message).toBe(
      'Budget exceeded: spent $0.9000 + estimated $0.2000 > cap $1.0000 per day (resets at 2025-01-02T00:00:00.000Z)',
    );

    now = Date.UTC(2025, 0, 2);
    expect(budget.stats()).toMatchObject({
      spentUsd: 0,
      refusals: 0,
      remainingUsd: 1,
      periodStartMs: Date.UTC(2025, 0, 2),
    });
    await expect(budget.reserve({ usd: 0.2 })).resolves.toBeDefined();
  });

  it('keeps holds across midnight and books the settled spend in the new day', async () => {
    let now = Date.UTC(2025, 5, 1, 23, 59);
    const budget = new Budget({ maxUsd: 1, period: 'day', wallClock: () => now });
    (await budget.reserve({ usd: 0.5 })).settle();
    const overnight = await budget.reserve({ usd: 0.3 });
    now += DAY_MS / 2;
    expect(budget.stats()).toMatchObject({ spentUsd: 0, reservedUsd: 0.3 });
    overnight.settle({ usd: 0.4 });
    expect(budget.stats()).toMatchObject({ spentUsd: 0.4, reservedUsd: 0 });
  });

  it('does not reset when the wall clock steps back across midnight', async () => {
    let now = Date.UTC(2025, 0, 2, 0, 0, 5);
    const budget = new Budget({ maxUsd: 1, period: 'day', wallClock: () => now });
    (await budget.reserve({ usd: 0.7 })).settle();
    now = Date.UTC(2025, 0, 1, 23, 59, 59);
    expect(budget.stats().spentUsd).toBe(0.7);
    now = Date.UTC(2025, 0, 2, 0, 0, 10);
    expect(budget.stats().spentUsd).toBe(0.7);
  });

  it('a run budget never resets by itself, only by reset()', async () => {
    let now = 0;
    const budget = new Budget({ maxUsd: 1, wallClock: () => now });
    (await budget.reserve({ usd: 0.7 })).settle();
    now += 10 * DAY_MS;
    expect(budget.stats()).toMatchObject({ spentUsd: 0.7, period: 'run', periodStartMs: undefined });
    budget.reset();
    expect(budget.stats().spentUsd).toBe(0);
  });
});

describe('tenant budgets', () => {
  it('refuse on their own cap while the parent has room', async () => {
    const budget = new Budget({ maxUsd: 10, name: 'prod' });
    const acme = budget.forTenant('acme', { maxUsd: 1 });
    (await acme.reserve({ usd: 0.8 })).settle();
    const error = await rejection(acme.reserve({ usd: 0.3 }));
    expect((error as Error).message).toBe(
      "Budget exceeded for tenant 'acme': spent $0.8000 + estimated $0.3000 > cap $1.0000",
    );
    expect(error).toMatchObject({ tenant: 'acme', budgetName: 'prod' });
    expect(acme.stats()).toMatchObject({ spentUsd: 0.8, remainingUsd: expect.closeTo(0.2, 12), refusals: 1 });
    expect(budget.stats()).toMatchObject({ spentUsd: 0.8, refusals: 0 });
    await expect(budget.forTenant('globex').reserve({ usd: 5 })).resolves.toBeDefined();
  });

  it('draw on the parent, so the parent cap holds across tenants', async () => {
    const budget = new Budget({ maxUsd: 1 });
    const a = budget.forTenant('a', { maxUsd: 0.8 });
    const b = budget.forTenant('b', { maxUsd: 0.8 });
    (await a.reserve({ usd: 0.6 })).settle();
    expect(b.stats().remainingUsd).toBeCloseTo(0.4, 12); // the parent's room, not b's own 0.8
    const error = await rejection(b.reserve({ usd: 0.5 }));
    expect((error as Error).message).toBe('Budget exceeded: spent $0.6000 + estimated $0.5000 > cap $1.0000');
    expect(error).toMatchObject({ tenant: undefined });
    // Counted where it was asked and where it was refused.
    expect(b.stats().refusals).toBe(1);
    expect(budget.stats().refusals).toBe(1);
    expect(a.stats().refusals).toBe(0);
  });

  it('is one budget per id; new caps replace the old and keep the spending', async () => {
    const budget = new Budget({ period: 'day', wallClock: () => 0 });
    const t = budget.forTenant('t', { maxTokens: 100 });
    expect(budget.forTenant('t')).toBe(t);
    expect(t.tenant).toBe('t');
    expect(t.stats().period).toBe('day');
    (await t.reserve({ tokens: 80 })).settle();
    expect(budget.forTenant('t', { maxTokens: 200 })).toBe(t);
    expect(t.stats()).toMatchObject({ spentTokens: 80, remainingTokens: 120, maxTokens: 200 });
  });

  it('reset() on the parent clears the tenants too', async () => {
    const budget = new Budget({ maxUsd: 1 });
    const t = budget.forTenant('t', { maxUsd: 0.5 });
    (await t.reserve({ usd: 0.5 })).settle();
    budget.reset();
    expect(t.stats().spentUsd).toBe(0);
    expect(budget.stats().spentUsd).toBe(0);
  });
});

describe('a pipeline of reservations', () => {
  it('never starts a call whose estimate would pass the cap, whatever the interleaving', async () => {
    const budget = new Budget({ maxUsd: 0.05 });
    const started: number[] = [];
    const reservations: BudgetReservation[] = [];
    for (let i = 0; i < 40; i++) {
      try {
        reservations.push(await budget.reserve({ usd: 0.003 }));
        started.push(i);
      } catch (error) {
        expect(error).toBeInstanceOf(BudgetExceededError);
      }
      // Settle the oldest open call with its real cost every other step.
      if (i % 2 === 1) reservations.shift()?.settle({ usd: 0.002 });
    }
    const s = budget.stats();
    expect(s.spentUsd + s.reservedUsd).toBeLessThanOrEqual(0.05 + 1e-12);
    expect(started.length).toBeGreaterThan(0);
    expect(s.refusals).toBe(40 - started.length);
  });
});
