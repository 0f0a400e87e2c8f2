import { describe, expect, it } from 'vitest';
import { PriceTable } from '../../src/cost/price-table';
import { Limiter } from '../../src/limits/limiter';
import { withFallback, type FallbackOptions, type FallbackTarget } from '../../src/routing/fallback-chain';
import { FallbackNode } from '../../src/routing/fallback-node';
import { isInvalidOptionError } from '../../src/validation/options';

const t = (
  name: string,
  extra: Partial<FallbackTarget<number, number>> = {},
): FallbackTarget<number, number> => ({
  name,
  limiter: new Limiter({ name, warnings: false }),
  call: (n) => n,
  ...extra,
});

function errorOf(fn: () => unknown): { option: string; message: string } {
  try {
    fn();
  } catch (error) {
    if (isInvalidOptionError(error)) return { option: error.option, message: error.message };
    throw error;
  }
  throw new Error('expected an InvalidOptionError');
}

describe('routing options are checked at construction', () => {
  it('refuses duplicate target names, naming the target', () => {
    expect(errorOf(() => withFallback([t('east'), t('west'), t('east')]))).toEqual({
      option: 'targets.2.name',
      message: "targets.2.name must be unique, got 'east' twice",
    });
  });

  it('refuses an unknown strategy', () => {
    const e = errorOf(() => withFallback([t('a')], { strategy: 'fastest' } as unknown as FallbackOptions));
    expect(e.option).toBe('strategy');
    expect(e.message).toMatch(
      /strategy must be one of 'ordered', 'soonest', 'cheapest', 'latency', got 'fastest'/,
    );
  });

  it.each([0, -5, Number.NaN])('refuses maxWaitMs %s', (maxWaitMs) => {
    const e = errorOf(() => withFallback([t('a')], { strategy: 'cheapest', maxWaitMs }));
    expect(e.option).toBe('maxWaitMs');
    expect(e.message).toMatch(/maxWaitMs must be a positive number/);
  });

  it("refuses 'cheapest' with a target whose model has no price, or no model", () => {
    const prices = new PriceTable({
      known: { inputUsdPerMillion: 1, outputUsdPerMillion: 2, contextWindowTokens: 1000 },
    });
    const unpriced = errorOf(() =>
      withFallback([t('a', { model: 'known' }), t('b', { model: 'mystery-model' })], {
        strategy: 'cheapest',
        prices,
      }),
    );
    expect(unpriced.option).toBe('targets.1.model');
    expect(unpriced.message).toMatch(/target 'b'.*'mystery-model', which has no price/);
    const missing = errorOf(() => withFallback([t('a')], { strategy: 'cheapest', prices }));
    expect(missing).toMatchObject({ option: 'targets.0.model' });
    expect(missing.message).toMatch(/target 'a'.*got no model/);
    // Other strategies do not need prices.
    expect(() => withFallback([t('a', { model: 'mystery-model' })], { strategy: 'soonest' })).not.toThrow();
  });

  it('refuses a bad contextWindowTokens on a target', () => {
    const e = errorOf(() => withFallback([t('a', { contextWindowTokens: -1 })]));
    expect(e.option).toBe('targets.0.contextWindowTokens');
  });

  it('a FallbackNode refuses the same, at construction', () => {
    expect(() => new FallbackNode({ targets: [t('a'), t('a')] })).toThrow(/must be unique/);
    expect(() => new FallbackNode({ strategy: 'nearest' as 'soonest' })).toThrow(/strategy must be one of/);
  });
});
