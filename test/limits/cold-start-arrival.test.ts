/**
 * A limiter on a store shared across processes counts the requests it started before any
 * response came back from their responses' arrival (no headers needed); later ones from their start.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Limiter } from '../../src/limits/limiter';
import { MemoryStore } from '../../src/stores/memory-store';
import type { Store, StoreHandle, WindowSpec } from '../../src/stores/store';
import { FakeClock } from '../../src/testing/fake-clock';
import { resolveSimulatorOptions } from '../../src/testing/provider-simulator-options';
import { SimulatorState } from '../../src/testing/simulator-state';
import { maxInAnyWindow } from '../../src/testing/window-max';
import { countHeaders } from './count-headers';

/** A memory store that says it is shared across processes, as RedisStore does. */
class SharedMemoryStore implements Store {
  private readonly inner = new MemoryStore();
  constructor(private readonly shared: boolean) {}
  bind(name: string, windows: readonly WindowSpec[]): StoreHandle {
    const handle = this.inner.bind(name, windows);
    return Object.assign(Object.create(handle) as StoreHandle, { sharedAcrossProcesses: this.shared });
  }
}

/** A limiter on a fake clock, and `call(ms)`: a call through it that records its start and lasts `ms`. */
function recorder(shared: boolean, maxPerWindow: number, windowMs: number, windowMarginMs = 0) {
  const clock = new FakeClock();
  const limiter = new Limiter({
    clock,
    store: new SharedMemoryStore(shared),
    maxPerWindow,
    windowMs,
    windowMarginMs,
  });
  const started: number[] = [];
  const call = (ms: number) =>
    limiter.run(async () => {
      started.push(clock.now());
      await clock.sleep(ms);
    });
  return { clock, started, call };
}

async function starts(shared: boolean): Promise<number[]> {
  const { clock, started, call } = recorder(shared, 2, 3000);
  // Two calls of a cold burst (200 and 300 ms round trips), then three more.
  const durations = [200, 300, 400, 100, 100];
  const all = Promise.all(durations.map((ms) => call(ms)));
  await clock.runAll();
  await all;
  return started;
}

describe('cold-start arrival bound', () => {
  it('shared store: the first burst counts from its responses, later requests from their start', async () => {
    // 0, 0 cold, started together: both counted from the first response (200) → the third and
    // fourth start at 3200; both find a connection freed by a response, so the third counts from
    // 3200 although it ends at 3600: the fifth starts at 6200.
    expect(await starts(true)).toEqual([0, 0, 3200, 3200, 6200]);
  });

  it('shared store: a burst after connections went idle (> 4 s without a response) is cold again', async () => {
    const { clock, started, call } = recorder(true, 1, 3000);
    const first = Promise.all([call(300), call(100)]);
    await clock.runAll();
    await first;
    // 0 (cold, counts from 300) → 3300 (warm: released at 3400, counts from 3300).
    expect(started).toEqual([0, 3300]);
    await clock.advance(10_000 - clock.now());
    const second = Promise.all([call(600), call(100)]);
    await clock.runAll();
    await second;
    // 10 000 is 6.6 s after the last response: cold again, counted from its response at 10 600
    // but at most a tenth of the window (300 ms) late: from 10 300.
    expect(started).toEqual([0, 3300, 10_000, 13_300]);
  });

  it('shared store: only as many starts are warm as responses freed connections', async () => {
    const { clock, started, call } = recorder(true, 3, 10_000);
    const a = call(100); // cold: counted from 100
    await clock.advance(200);
    // B reuses A's connection (counted from 200), C opens one (counted from its response at 700).
    const rest = Promise.all([call(500), call(500), call(10), call(10), call(10)]);
    await clock.runAll();
    await Promise.all([a, rest]);
    expect(started).toEqual([0, 200, 200, 10_100, 10_200, 10_700]);
  });

  it('memory store (one process): every entry counts from its start, exactly as before', async () => {
    expect(await starts(false)).toEqual([0, 0, 3000, 3000, 6000]);
  });
});

describe('cold-start arrival bound: requests started together', () => {
  it('a cold request counts from the earliest response of one started with it or after it', async () => {
    const { clock, started, call } = recorder(true, 3, 10_000);
    // Three cold starts at 0 answered at 900, 300 and 600: all reached the provider by 300.
    const all = Promise.all([call(900), call(300), call(600), call(10), call(10), call(10)]);
    await clock.runAll();
    await all;
    expect(started).toEqual([0, 0, 0, 10_300, 10_300, 10_300]);
  });

  /**
   * Two cold calls on a shared store (2 per 10 s, margin 100 ms): one lasting 800 ms at 0, one
   * lasting 900 ms started `laterMs` after it; then two more. Returns every start.
   */
  async function secondStartedAfter(laterMs: number): Promise<number[]> {
    const { clock, started, call } = recorder(true, 2, 10_000, 100);
    const a = call(800);
    await clock.advance(laterMs);
    const b = call(900);
    const rest = Promise.all([call(10), call(10)]);
    await clock.runAll();
    await Promise.all([a, b, rest]);
    return started;
  }

  it('a response of a request started more than the margin earlier is no bound', async () => {
    // Cold (no response yet), started 200 ms after the first: counted from its own response (1100).
    // Entries count from 800 and 1100, each a window (10 000) plus the margin (100) less the margin.
    expect(await secondStartedAfter(200)).toEqual([0, 200, 10_800, 11_100]);
  });

  it('one started within the margin after an answered one: its response plus the difference', async () => {
    // Answered at 950, but the one started 50 ms before it was answered at 800: counted from 850.
    expect(await secondStartedAfter(50)).toEqual([0, 50, 10_800, 10_850]);
  });
});

describe('cold-start arrival bound: one process, once responses show counts', () => {
  const LIMIT = 3;
  const WINDOW_MS = 10_000;
  /** Requests through one limiter against a sliding-window stand-in that counts rejections. */
  function setUp() {
    const clock = new FakeClock();
    const provider = new SimulatorState(
      resolveSimulatorOptions({ requestsPerWindow: LIMIT, windowMs: WINDOW_MS, countRejected: true }),
      () => clock.now(),
    );
    const limiter = new Limiter({ maxPerWindow: LIMIT, windowMs: WINDOW_MS, clock, warnings: false });
    const request = async (lagMs: number, latencyMs: number) => {
      const lease = await limiter.acquire();
      await clock.sleep(lagMs);
      const admission = provider.admit(1);
      await clock.sleep(latencyMs);
      const budget = admission.budgets.requests!;
      if (admission.ok) {
        limiter.observe(
          { status: 200, headers: countHeaders(LIMIT, budget.limit - budget.remaining) },
          { lease },
        );
      }
      lease.release();
    };
    /** A first window whose responses show counts. */
    const firstWindow = async () => {
      const first = [request(0, 100), request(0, 100), request(0, 100)];
      await clock.runAll();
      await Promise.all(first);
    };
    /**
     * After `second`, the next burst starts as soon as our window lets it: it must meet no 429, and
     * the provider's window, rebuilt from its arrivals, never goes over.
     */
    const thirdBurstFits = async (second: Promise<void>[]) => {
      await clock.advance(1_500);
      const third = [request(0, 100), request(0, 100), request(0, 100)];
      await clock.runAll();
      await Promise.all([...second, ...third]);
      const log = provider.log();
      expect(log.rejectedAtMs).toEqual([]);
      expect(maxInAnyWindow(log.acceptedAtMs, WINDOW_MS)).toBe(LIMIT);
      expect(log.acceptedAtMs).toHaveLength(3 * LIMIT);
    };
    return { clock, request, firstWindow, thirdBurstFits };
  }

  it('a cold request counts from its own response, not from an earlier response of one started after it', async () => {
    const { clock, request, firstWindow, thirdBurstFits } = setUp();
    // A first window, then connections go idle and close (> 4 s).
    await firstWindow();
    await clock.advance(10_200 - clock.now());
    // A cold burst: two reach the provider 900 ms late, the one started after them at once (answered
    // first). Its response says nothing about when the others arrived: a burst of new connections
    // reaches the provider in any order.
    await thirdBurstFits([request(900, 100), request(900, 100), request(0, 50)]);
  });

  it('a count that proves a cold request a little late is a floor under its bound, not its bound', async () => {
    const { clock, request, firstWindow, thirdBurstFits } = setUp();
    await firstWindow();
    await clock.advance(10_300 - clock.now());
    // The first reaches the provider 900 ms late, after the two started 1 and 2 ms after it: its count
    // (3) proves it arrived no earlier than 2 ms after its grant, and says nothing of how much later.
    const second = [request(900, 100)];
    await clock.advance(1);
    second.push(request(0, 50));
    await clock.advance(1);
    second.push(request(0, 50));
    await thirdBurstFits(second);
  });
});

describe('cold-start arrival bound: pacing windows count a cold request late from its start', () => {
  // 100 per 10 s paced over 1 s: 10 per 1 s (margin 30 ms), in tenths of 1 per 90 ms. A cold
  // request counts in the pacing window from a tenth of its 1 s (100 ms) less the margin: 70 ms.
  const options = { maxPerWindow: 100, windowMs: 10_000, pacingMs: 1000, warnings: false } as const;

  /**
   * Requests through the limiter against a stand-in enforcing 10 in any 1 s (pro rata), counting
   * rejections: request i reaches it `lagsMs[i]` after its grant, and every call outlasts the
   * run's starts, so no connection is ever freed (all are cold). Returns when each started and
   * what the stand-in logged.
   */
  async function coldRequests(lagsMs: readonly number[], store?: Store) {
    const clock = new FakeClock();
    const provider = new SimulatorState(
      resolveSimulatorOptions({
        requestsPerWindow: 100,
        windowMs: 10_000,
        quantumMs: 1000,
        countRejected: true,
      }),
      () => clock.now(),
    );
    const limiter = new Limiter({ ...options, clock, ...(store ? { store } : {}) });
    const started: number[] = [];
    const all = lagsMs.map(async (lagMs) => {
      const lease = await limiter.acquire();
      started.push(clock.now());
      await clock.sleep(lagMs);
      provider.admit(1);
      await clock.sleep(60_000);
      lease.release();
    });
    await clock.runAll();
    await Promise.all(all);
    return { started, log: provider.log() };
  }

  /** Eleven cold requests: the first ten reach the stand-in 80 ms late, the eleventh at once. */
  const lateFirstSecond = (store?: Store) => coldRequests([...Array<number>(10).fill(80), 0], store);

  it('the late first second does not crowd the next: no 429', async () => {
    const { started, log } = await lateFirstSecond();
    // The first pacing entry counts from 70 ms: the eleventh starts at 70 + 1030.
    expect(started[10]).toBe(1100);
    expect(log.rejectedAtMs).toEqual([]);
    expect(maxInAnyWindow(log.acceptedAtMs, 1000)).toBe(10);
  });

  it("cold requests up to a tenth of the sub-window late: the provider's sub-window never goes over (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 11, maxLength: 40 }),
        async (lags) => {
          const { log } = await coldRequests(lags);
          expect(log.rejectedAtMs).toEqual([]);
          expect(maxInAnyWindow(log.acceptedAtMs, 1000)).toBeLessThanOrEqual(10);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a store that cannot move entries at the start: the eleventh meets a 429', async () => {
    // The same memory store without delayEntries: the lag would apply only at release, too late.
    const inner = new MemoryStore();
    const store: Store = {
      bind(name, windows) {
        const handle = inner.bind(name, windows);
        return Object.assign(Object.create(handle) as StoreHandle, { delayEntries: undefined });
      },
    };
    const { started, log } = await lateFirstSecond(store);
    expect(started[10]).toBe(1030);
    expect(log.rejectedAtMs).toEqual([1030]);
  });

  it('a request on a connection a response freed counts from its start', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ ...options, clock });
    const started: number[] = [];
    const call = (ms: number) =>
      limiter.run(async () => {
        started.push(clock.now());
        await clock.sleep(ms);
      });
    // One quick call frees a connection; 2 s later (under the 4 s idle timeout) the first of eleven
    // reuses it (warm, from 2000), the other ten open new ones.
    const first = call(1);
    await clock.runAll();
    await first;
    await clock.advance(2000 - clock.now());
    const rest = Promise.all(Array.from({ length: 11 }, () => call(3000)));
    await clock.runAll();
    await rest;
    // The eleventh of them waits for the warm one's pacing entry: 2000 + 1030.
    expect(started[11]).toBe(3030);
  });
});
