import { describe, expect, it } from 'vitest';
import { assertNever } from '../../src/limits/assert-never';
import { WakeTimer } from '../../src/limits/wake-timer';
import { FakeClock } from '../../src/testing/fake-clock';

function setupTimer(): { clock: FakeClock; timer: WakeTimer; wakes: number[] } {
  const clock = new FakeClock();
  const wakes: number[] = [];
  return { clock, wakes, timer: new WakeTimer(clock, () => wakes.push(clock.now())) };
}

describe('WakeTimer', () => {
  it('fires once at the moment it was armed for', async () => {
    const { clock, timer, wakes } = setupTimer();
    timer.arm(100);
    await clock.advance(99);
    expect(wakes).toEqual([]);
    await clock.advance(1);
    expect(wakes).toEqual([100]);
    await clock.advance(1000);
    expect(wakes).toEqual([100]);
  });

  it('an earlier moment replaces a later timer; a later one keeps the earlier timer', async () => {
    const { clock, timer, wakes } = setupTimer();
    timer.arm(500);
    timer.arm(200);
    timer.arm(300);
    expect(clock.pendingSleeps).toBe(1);
    await clock.runAll();
    expect(wakes).toEqual([200]);
  });

  it('Infinity and cancel disarm it; a moment already past fires at once', async () => {
    const { clock, timer, wakes } = setupTimer();
    timer.arm(100);
    timer.arm(Infinity);
    await clock.advance(200);
    timer.arm(300);
    timer.cancel();
    await clock.advance(200);
    expect(wakes).toEqual([]);
    timer.arm(50);
    await clock.advance(0);
    expect(wakes).toEqual([400]);
  });
});

describe('assertNever', () => {
  it('throws when a value its switch did not expect arrives anyway (a union widened at run time)', () => {
    expect(() => assertNever('sideways' as never, 'blocked state')).toThrow(
      'unexpected blocked state sideways',
    );
  });
});
