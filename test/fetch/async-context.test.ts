import { AsyncLocalStorage } from 'node:async_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { throttledFetch } from '../../src/fetch/throttled-fetch';
import { Limiter } from '../../src/limits/limiter';
import { useAsyncLocalStorage } from '../../src/limits/lease-hand-off';
import { asyncLocalStorageClass } from '../../src/util/async-context';
import { isInvalidOptionError } from '../../src/validation/options';

afterEach(() => useAsyncLocalStorage(AsyncLocalStorage));

const ok = async () => new Response('{}', { headers: { 'content-type': 'application/json' } });

describe('the async context behind the nested-lease hand-off', () => {
  it('is found without help on this Node (process.getBuiltinModule or a global)', () => {
    expect(asyncLocalStorageClass()).toBe(AsyncLocalStorage);
  });

  it('useAsyncLocalStorage: the class given is the one used for the hand-off', async () => {
    let runs = 0;
    class Counting<T> extends AsyncLocalStorage<T> {
      override run<R>(store: T, fn: () => R): R {
        runs++;
        return super.run(store, fn);
      }
    }
    useAsyncLocalStorage(Counting);
    const limiter = new Limiter({ maxConcurrent: 1 });
    const fetch = throttledFetch(limiter, { fetch: ok });
    await limiter.run(async () =>
      (await fetch('https://api.example/a', { method: 'POST', body: '{}' })).json(),
    );
    expect(runs).toBe(1);
    expect(limiter.stats()).toMatchObject({ totalRequests: 1, active: 0 });
  });

  it('rejects anything but a class with InvalidOptionError', () => {
    let error: unknown;
    try {
      useAsyncLocalStorage({} as never);
    } catch (e) {
      error = e;
    }
    expect(isInvalidOptionError(error)).toBe(true);
    expect((error as Error).message).toContain('got object');
  });
});
