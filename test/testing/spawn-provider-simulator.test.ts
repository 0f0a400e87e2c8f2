import { describe, expect, it } from 'vitest';
import { isInvalidOptionError } from '../../src/validation/options';
import { spawnProviderSimulator } from '../../src/testing/spawn-provider-simulator';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const post = (url: string, body: unknown) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('spawnProviderSimulator', () => {
  it('runs the simulator in a child process, controls it over HTTP, and closes the child', async () => {
    const sim = await spawnProviderSimulator({ requestsPerWindow: 3, windowMs: 60_000 });
    try {
      expect(sim.pid).not.toBe(process.pid);
      expect(isAlive(sim.pid)).toBe(true);
      const statuses = await Promise.all(
        Array.from(
          { length: 5 },
          async () =>
            (await post(`${sim.url}/v1/chat/completions`, { messages: [{ role: 'user', content: 'hi' }] }))
              .status,
        ),
      );
      expect(statuses.filter((s) => s === 429)).toHaveLength(2);
      expect(await sim.stats()).toMatchObject({ accepted: 3, rejected: 2, maxRequestsInAnyWindow: 3 });
      const log = await sim.log();
      expect(log.acceptedAtMs).toHaveLength(3);
      expect(log.rejectedAtMs).toHaveLength(2);

      await sim.setOptions({ requestsPerWindow: 10, tokensPerWindow: undefined });
      expect(await sim.options()).toMatchObject({ requestsPerWindow: 10, windowMs: 60_000 });
      await expect(sim.setOptions({ p500: 5 })).rejects.toThrow(/p500 must be a number between 0 and 1/);

      await sim.reset();
      expect(await sim.stats()).toMatchObject({ accepted: 0, rejected: 0 });
    } finally {
      await sim.close();
    }
    expect(isAlive(sim.pid)).toBe(false);
    await expect(fetch(`${sim.url}/stats`)).rejects.toThrow();
    await sim.close(); // idempotent
  });

  it('rejects invalid options before starting a child', async () => {
    const error = await spawnProviderSimulator({ windowMs: 0 }).catch((e: unknown) => e);
    expect(isInvalidOptionError(error)).toBe(true);
  });
});
