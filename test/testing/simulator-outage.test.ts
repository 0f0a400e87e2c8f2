import { describe, expect, it } from 'vitest';
import { resolveSimulatorOptions } from '../../src/testing/provider-simulator-options';
import { SimulatorState } from '../../src/testing/simulator-state';
import { isInvalidOptionError } from '../../src/validation/options';

function stateAt(options: object) {
  const clock = { nowMs: 0 };
  const state = new SimulatorState(resolveSimulatorOptions(options), () => clock.nowMs);
  return { clock, state };
}

describe('SimulatorState: outage', () => {
  it('answers every request 429 during the outage, with the time left as retry-after, and counts them when asked', () => {
    const { clock, state } = stateAt({
      requestsPerWindow: 5,
      windowMs: 1000,
      countRejected: true,
      outage: { fromMs: 1000, toMs: 4000 },
    });
    expect(state.admit(1).ok).toBe(true);
    clock.nowMs = 1000;
    expect(state.admit(1)).toMatchObject({ ok: false, retryAfterMs: 3000, scope: 'requests' });
    clock.nowMs = 3500;
    expect(state.admit(1)).toMatchObject({ ok: false, retryAfterMs: 500 });
    clock.nowMs = 3600;
    for (let i = 0; i < 3; i++) expect(state.admit(1).ok).toBe(false);
    // The outage is over, but its rejections since 3000 (four of them) still count: room for one.
    clock.nowMs = 4000;
    expect(state.admit(1).ok).toBe(true);
    // Full; the refusal counts too, so room comes when the 3500 and 3600 entries have left.
    expect(state.admit(1)).toMatchObject({ ok: false, retryAfterMs: 600 });
    clock.nowMs = 4600;
    expect(state.admit(1).ok).toBe(true);
    expect(state.stats()).toMatchObject({ accepted: 3, rejected: 6 });
  });

  it('uses a fixed retry-after when given, and resets with the simulator', () => {
    const { clock, state } = stateAt({ outage: { fromMs: 0, toMs: 500, retryAfterMs: 100 } });
    expect(state.admit(1)).toMatchObject({ ok: false, retryAfterMs: 100 });
    clock.nowMs = 500;
    expect(state.admit(1).ok).toBe(true);
    state.reset(); // the outage is measured from the reset
    expect(state.admit(1).ok).toBe(false);
  });

  it('refuses a malformed outage', () => {
    let error: unknown;
    try {
      resolveSimulatorOptions({ outage: { fromMs: 0, toMs: 10, retryAfterMs: 0 } });
    } catch (e) {
      error = e;
    }
    expect(isInvalidOptionError(error)).toBe(true);
    expect(String(error)).toMatch(/outage\.retryAfterMs must be a positive number/);
  });
});
