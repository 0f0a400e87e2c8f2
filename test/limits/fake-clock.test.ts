import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/testing/fake-clock';
import { InvalidOptionError } from '../../src/validation/options';

describe('FakeClock', () => {
  it('starts where told and moves only when advanced', async () => {
    const clock = new FakeClock(1000);
    expect(clock.now()).toBe(1000);
    await new Promise((r) => setTimeout(r, 5));
    expect(clock.now()).toBe(1000);
    await clock.advance(250);
    expect(clock.now()).toBe(1250);
  });

  it('wakes sleepers in due order, each at its own due time, ties in call order', async () => {
    const clock = new FakeClock();
    const woke: string[] = [];
    for (const [name, ms] of [
      ['c', 30],
      ['a', 10],
      ['b', 20],
      ['a2', 10],
    ] as const) {
      void clock.sleep(ms).then(() => woke.push(`${name}@${clock.now()}`));
    }
    expect(clock.pendingSleeps).toBe(4);
    expect(clock.nextDueAt).toBe(10);
    await clock.advance(25);
    expect(woke).toEqual(['a@10', 'a2@10', 'b@20']);
    expect(clock.now()).toBe(25);
    expect(clock.nextDueAt).toBe(30);
    await clock.advance(5);
    expect(woke).toEqual(['a@10', 'a2@10', 'b@20', 'c@30']);
    expect(clock.nextDueAt).toBeUndefined();
  });

  it('a sleep started by a wake-up and due within the same advance also wakes, at its own time', async () => {
    const clock = new FakeClock();
    const woke: number[] = [];
    void clock.sleep(10).then(async () => {
      woke.push(clock.now());
      await clock.sleep(15);
      woke.push(clock.now());
    });
    await clock.advance(100);
    expect(woke).toEqual([10, 25]);
  });

  it('a zero, negative or NaN sleep is due now (as with the real clock), not never', async () => {
    const clock = new FakeClock(5);
    const woke: number[] = [];
    for (const ms of [0, -10, Number.NaN]) void clock.sleep(ms).then(() => woke.push(clock.now()));
    await clock.advance(0);
    expect(woke).toEqual([5, 5, 5]);
    expect(clock.pendingSleeps).toBe(0);
  });

  it('an abort rejects with the signal reason and forgets the sleep; an aborted signal rejects at once', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    const sleeping = clock.sleep(100, controller.signal);
    expect(clock.pendingSleeps).toBe(1);
    controller.abort(new Error('stop'));
    await expect(sleeping).rejects.toThrow('stop');
    expect(clock.pendingSleeps).toBe(0);
    await expect(clock.sleep(1, AbortSignal.abort())).rejects.toMatchObject({ name: 'AbortError' });
    expect(clock.pendingSleeps).toBe(0);
  });

  it('advanceTo never goes backwards', async () => {
    const clock = new FakeClock(500);
    await clock.advanceTo(200);
    expect(clock.now()).toBe(500);
    await clock.advanceTo(800);
    expect(clock.now()).toBe(800);
  });

  it('advance refuses a negative, NaN or infinite step (time would go backwards or be poisoned)', async () => {
    const clock = new FakeClock(100);
    await expect(clock.advance(-1)).rejects.toThrow(InvalidOptionError);
    await expect(clock.advance(Number.NaN)).rejects.toThrow('got NaN');
    await expect(clock.advance(Infinity)).rejects.toThrow(InvalidOptionError);
    await expect(clock.advanceTo(Number.NaN)).rejects.toThrow(InvalidOptionError);
    expect(clock.now()).toBe(100);
  });

  it('runAll advances through every pending sleep, including ones added on the way, up to maxMs', async () => {
    const clock = new FakeClock();
    let ticks = 0;
    const loop = async () => {
      while (ticks < 5) {
        await clock.sleep(1000);
        ticks++;
      }
    };
    void loop();
    expect(await clock.runAll()).toBe(5000);
    expect(ticks).toBe(5);
    void clock.sleep(10_000);
    expect(await clock.runAll(5000)).toBe(0); // the next one is beyond maxMs
    expect(clock.pendingSleeps).toBe(1);
  });
});
