import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isInvalidOptionError } from '../../src/validation/options';
import { resolveSimulatorOptions } from '../../src/testing/provider-simulator-options';
import { SimulatorState } from '../../src/testing/simulator-state';
import { simulatorTokenCost } from '../../src/testing/simulator-token-cost';
import { maxInAnyWindow } from '../../src/testing/window-max';

function stateAt(options: object) {
  const clock = { nowMs: 0 };
  const state = new SimulatorState(resolveSimulatorOptions(options), () => clock.nowMs);
  return { clock, state };
}

describe('SimulatorState: sliding window', () => {
  it('admits the limit, then refuses with the exact wait until the oldest leaves the window', () => {
    const { clock, state } = stateAt({ requestsPerWindow: 3, windowMs: 1000 });
    clock.nowMs = 0;
    expect(state.admit(1).ok).toBe(true);
    clock.nowMs = 200;
    expect(state.admit(1).ok).toBe(true);
    expect(state.admit(1).ok).toBe(true);
    clock.nowMs = 300;
    expect(state.admit(1)).toMatchObject({ ok: false, retryAfterMs: 700, scope: 'requests' });
    // Half-open: at exactly t + windowMs the unit no longer counts.
    clock.nowMs = 1000;
    const admitted = state.admit(1);
    expect(admitted.ok).toBe(true);
    expect(admitted.budgets.requests).toEqual({ limit: 3, remaining: 0, resetMs: 1000 });
    clock.nowMs = 1100;
    expect(state.admit(1)).toMatchObject({ ok: false, retryAfterMs: 100 });
  });

  it('limits tokens too, naming the scope and giving the wait for enough tokens to expire', () => {
    const { clock, state } = stateAt({ tokensPerWindow: 1000, windowMs: 1000 });
    expect(state.admit(400).ok).toBe(true);
    clock.nowMs = 100;
    expect(state.admit(400).ok).toBe(true);
    clock.nowMs = 200;
    expect(state.admit(300)).toMatchObject({ ok: false, scope: 'tokens', retryAfterMs: 800 });
    expect(state.admit(200).ok).toBe(true);
    expect(state.admit(1001)).toMatchObject({ ok: false, retryAfterMs: Number.POSITIVE_INFINITY });
  });

  it('countRejected: a refused request spends request capacity, so retrying early locks you out longer', () => {
    const plain = stateAt({ requestsPerWindow: 2, windowMs: 1000 });
    const counting = stateAt({ requestsPerWindow: 2, windowMs: 1000, countRejected: true });
    for (const { state } of [plain, counting]) {
      state.admit(1);
      state.admit(1);
    }
    plain.clock.nowMs = counting.clock.nowMs = 100;
    expect(plain.state.admit(1)).toMatchObject({ ok: false, retryAfterMs: 900 });
    expect(counting.state.admit(1)).toMatchObject({ ok: false, retryAfterMs: 900 });
    // A retry before the window frees up is itself counted …
    plain.clock.nowMs = counting.clock.nowMs = 950;
    expect(plain.state.admit(1).ok).toBe(false);
    expect(counting.state.admit(1).ok).toBe(false);
    // … so when the first two expire, the counting provider is still full of refused requests.
    plain.clock.nowMs = counting.clock.nowMs = 1000;
    expect(plain.state.admit(1).ok).toBe(true);
    expect(counting.state.admit(1)).toMatchObject({ ok: false, retryAfterMs: 950 });
    expect(counting.state.stats()).toMatchObject({ accepted: 2, rejected: 3 });
  });
});

describe('SimulatorState: token bucket', () => {
  it('bursts to the limit, then refills continuously', () => {
    const { clock, state } = stateAt({ requestsPerWindow: 10, windowMs: 1000, mode: 'bucket' });
    for (let i = 0; i < 10; i++) expect(state.admit(1).ok).toBe(true);
    expect(state.admit(1)).toMatchObject({ ok: false, retryAfterMs: 100 });
    clock.nowMs = 100;
    expect(state.admit(1).ok).toBe(true);
    clock.nowMs = 150;
    expect(state.admit(1)).toMatchObject({ ok: false, retryAfterMs: 50 });
    clock.nowMs = 10_000;
    const admitted = state.admit(1);
    expect(admitted.budgets.requests).toEqual({ limit: 10, remaining: 9, resetMs: 100 });
  });

  it('countRejected drains the bucket below empty (at most one bucket deep)', () => {
    const { clock, state } = stateAt({
      requestsPerWindow: 2,
      windowMs: 1000,
      mode: 'bucket',
      countRejected: true,
    });
    state.admit(1);
    state.admit(1);
    expect(state.admit(1)).toMatchObject({ ok: false, retryAfterMs: 1000 });
    for (let i = 0; i < 10; i++) state.admit(1);
    expect(state.admit(1)).toMatchObject({ ok: false, retryAfterMs: 1500 });
    clock.nowMs = 1500;
    expect(state.admit(1).ok).toBe(true);
  });
});

describe('SimulatorState: stats, reset, options', () => {
  it('reports the exact busiest window of accepted requests and tokens', () => {
    const { clock, state } = stateAt({ windowMs: 1000 });
    for (const [t, tokens] of [
      [0, 5],
      [500, 5],
      [999, 10],
      [1000, 1],
      [1499, 100],
      [1500, 1],
    ] as const) {
      clock.nowMs = t;
      state.admit(tokens);
    }
    const stats = state.stats();
    expect(state.log().acceptedAtMs).toEqual([0, 500, 999, 1000, 1499, 1500]);
    expect(state.log().acceptedTokens).toEqual([5, 5, 10, 1, 100, 1]);
    expect(stats.maxRequestsInAnyWindow).toBe(4); // [500, 1500): 500, 999, 1000, 1499
    expect(stats.maxTokensInAnyWindow).toBe(116); // 5 + 10 + 1 + 100
    expect(stats.tokens).toBe(122);
  });

  it('stats() holds summaries only (no per-request arrays); log() has the times; reset clears both', () => {
    const { clock, state } = stateAt({ requestsPerWindow: 2, windowMs: 1000 });
    state.admit(10);
    clock.nowMs = 100;
    state.admit(20);
    clock.nowMs = 200;
    state.admit(30); // refused
    state.finish();
    clock.nowMs = 300;
    expect(state.stats()).toEqual({
      accepted: 2,
      rejected: 1,
      faults: { p500: 0, p529: 0, reset: 0 },
      tokens: 30,
      maxRequestsInAnyWindow: 2,
      maxTokensInAnyWindow: 30,
      inFlight: 1,
      maxInFlight: 2,
      windowMs: 1000,
      elapsedMs: 300,
    });
    expect(Object.values(state.stats()).some(Array.isArray)).toBe(false);
    expect(state.log()).toEqual({ acceptedAtMs: [0, 100], acceptedTokens: [10, 20], rejectedAtMs: [200] });
    // A copy: changing it does not change what the simulator measured.
    state.log().acceptedAtMs.push(150);
    expect(state.log().acceptedAtMs).toEqual([0, 100]);

    state.reset();
    expect(state.log()).toEqual({ acceptedAtMs: [], acceptedTokens: [], rejectedAtMs: [] });
    // The request still in flight is in flight after the reset.
    expect(state.stats()).toMatchObject({ accepted: 0, rejected: 0, tokens: 0, inFlight: 1, maxInFlight: 1 });
  });

  it('draws the same faults and latencies for the same seed, and again after reset', () => {
    const options = { p500: 0.2, p529: 0.1, pReset: 0.1, latencyMs: 100, jitterMs: 50, seed: 7 };
    const a = stateAt(options).state;
    const b = stateAt(options).state;
    const first = Array.from({ length: 200 }, () => a.drawFaultAndLatency());
    expect(Array.from({ length: 200 }, () => b.drawFaultAndLatency())).toEqual(first);
    a.reset();
    expect(Array.from({ length: 200 }, () => a.drawFaultAndLatency())).toEqual(first);
    const counts = { p500: 0, p529: 0, reset: 0, none: 0 };
    for (const draw of first) {
      counts[draw.fault ?? 'none']++;
      expect(draw.latencyMs).toBeGreaterThanOrEqual(50);
      expect(draw.latencyMs).toBeLessThanOrEqual(150);
    }
    expect(counts.p500).toBeGreaterThan(20);
    expect(counts.p529).toBeGreaterThan(5);
    expect(counts.reset).toBeGreaterThan(5);
  });

  it('setOptions keeps window history; clearing a limit with undefined removes it', () => {
    const { state } = stateAt({ requestsPerWindow: 5, windowMs: 1000 });
    for (let i = 0; i < 3; i++) state.admit(1);
    state.setOptions({ requestsPerWindow: 3 });
    expect(state.admit(1).ok).toBe(false);
    state.setOptions({ requestsPerWindow: undefined });
    expect(state.admit(1).ok).toBe(true);
    expect(state.options.requestsPerWindow).toBeUndefined();
  });

  it('validates options with named errors', () => {
    const attempt = (options: object) => {
      try {
        resolveSimulatorOptions(options);
        return undefined;
      } catch (error) {
        expect(isInvalidOptionError(error)).toBe(true);
        return (error as Error).message;
      }
    };
    expect(attempt({ requestsPerWindow: 0 })).toMatch(/requestsPerWindow must be a positive integer/);
    expect(attempt({ p500: 2 })).toMatch(/p500 must be a number between 0 and 1/);
    expect(attempt({ mode: 'fixed' })).toMatch(/mode must be one of/);
    expect(attempt({ requestPerWindow: 5 })).toMatch(
      /unknown option 'requestPerWindow'.*did you mean 'requestsPerWindow'/,
    );
    expect(resolveSimulatorOptions({})).toMatchObject({
      windowMs: 60_000,
      mode: 'sliding',
      countRejected: false,
    });
  });

  it('setOptions refuses an update that is not an options object and ignores an absent one', () => {
    const { state } = stateAt({ requestsPerWindow: 2 });
    for (const bad of [5, 'fast', [{ requestsPerWindow: 3 }]]) {
      expect(() => state.setOptions(bad)).toThrow(/ProviderSimulator options must be an object, got/);
    }
    expect(state.setOptions(undefined).requestsPerWindow).toBe(2);
    expect(state.setOptions(null).requestsPerWindow).toBe(2);
  });
});

describe('maxInAnyWindow', () => {
  it('matches a brute force over every half-open window', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 1, max: 50 })), {
          maxLength: 60,
        }),
        fc.integer({ min: 1, max: 2000 }),
        (events, windowMs) => {
          const sorted = [...events].sort((x, y) => x[0] - y[0]);
          const times = sorted.map(([t]) => t);
          const weights = sorted.map(([, w]) => w);
          let bruteCount = 0;
          let bruteWeight = 0;
          for (const start of times) {
            const inside = sorted.filter(([t]) => t >= start && t < start + windowMs);
            bruteCount = Math.max(bruteCount, inside.length);
            bruteWeight = Math.max(
              bruteWeight,
              inside.reduce((sum, [, w]) => sum + w, 0),
            );
          }
          expect(maxInAnyWindow(times, windowMs)).toBe(bruteCount);
          expect(maxInAnyWindow(times, windowMs, weights)).toBe(bruteWeight);
        },
      ),
    );
  });
});

describe('simulatorTokenCost', () => {
  it('charges ceil(chars / 4) of all contents plus max_tokens × n', () => {
    expect(simulatorTokenCost({ messages: [{ role: 'user', content: 'abcde' }], max_tokens: 10 })).toEqual({
      promptTokens: 2,
      maxOutputTokens: 10,
      totalTokens: 12,
    });
    expect(
      simulatorTokenCost({
        system: 'abcd',
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'abcd' }, { type: 'image' }] },
          { role: 'assistant', content: 'a' },
        ],
        max_completion_tokens: 5,
        n: 2,
      }),
    ).toEqual({ promptTokens: 3, maxOutputTokens: 10, totalTokens: 13 });
    expect(simulatorTokenCost(undefined)).toEqual({ promptTokens: 0, maxOutputTokens: 0, totalTokens: 0 });
  });
});

describe('SimulatorState: quantized enforcement (quantumMs)', () => {
  it('also refuses past the pro-rata share of any quantum, with the wait until the quantum frees', () => {
    const { clock, state } = stateAt({ requestsPerWindow: 100, windowMs: 10_000, quantumMs: 500 });
    for (let i = 0; i < 5; i++) expect(state.admit(1).ok).toBe(true);
    clock.nowMs = 100;
    // 100 per 10 s is 5 per 500 ms: the sixth waits for the first to leave the quantum.
    expect(state.admit(1)).toMatchObject({ ok: false, scope: 'requests', retryAfterMs: 400 });
    clock.nowMs = 500;
    const admitted = state.admit(1);
    expect(admitted.ok).toBe(true);
    // The headers speak of the long window.
    expect(admitted.budgets.requests).toMatchObject({ limit: 100, remaining: 94 });
  });

  it('never admits more than either window allows (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 300 }), (gaps) => {
        const { clock, state } = stateAt({ requestsPerWindow: 40, windowMs: 2000, quantumMs: 250 });
        for (const gap of gaps) {
          clock.nowMs += gap;
          state.admit(1);
        }
        const { acceptedAtMs } = state.log();
        expect(maxInAnyWindow(acceptedAtMs, 2000)).toBeLessThanOrEqual(40);
        expect(maxInAnyWindow(acceptedAtMs, 250)).toBeLessThanOrEqual(5);
      }),
    );
  });
});
