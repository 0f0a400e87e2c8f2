import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../../src/testing/fake-clock';
import { MemoryCache, type Cache } from '../../src/resilience/index';
import { getOrLoad } from '../../src/resilience/single-flight';
import { InvalidOptionError } from '../../src/validation/options';
import { deferred, outcome } from './helpers';

function cache<V = string>(options: { max?: number; ttlMs?: number } = {}) {
  const clock = new FakeClock();
  return { clock, cache: new MemoryCache<V>({ ...options, clock }) };
}

const keysOf = (c: MemoryCache<unknown>, candidates: string[]) => candidates.filter((k) => c.has(k));

describe('MemoryCache LRU', () => {
  it('evicts the least recently used entry beyond max, in order', () => {
    const { cache: c } = cache({ max: 3 });
    c.set('a', '1').set('b', '2').set('c', '3');
    expect(c.get('a')).toBe('1'); // a is now the most recent; b is the least
    c.set('d', '4');
    expect(keysOf(c, ['a', 'b', 'c', 'd'])).toEqual(['a', 'c', 'd']);
    c.set('e', '5');
    expect(keysOf(c, ['a', 'b', 'c', 'd', 'e'])).toEqual(['a', 'd', 'e']);
    expect(c.size).toBe(3);
  });

  it('has() does not make an entry recent; set() on an existing key does', () => {
    const { cache: c } = cache({ max: 2 });
    c.set('a', '1').set('b', '2');
    c.has('a');
    c.set('c', '3');
    expect(keysOf(c, ['a', 'b', 'c'])).toEqual(['b', 'c']);
    c.set('b', '2b');
    c.set('d', '4');
    expect(keysOf(c, ['b', 'c', 'd'])).toEqual(['b', 'd']);
    expect(c.get('b')).toBe('2b');
  });

  it('deletes, clears and treats storing undefined as delete', () => {
    const { cache: c } = cache<string | undefined>();
    c.set('a', 'x').set('b', 'y');
    expect(c.delete('a')).toBe(true);
    expect(c.delete('a')).toBe(false);
    c.set('b', undefined);
    expect(c.has('b')).toBe(false);
    c.set('c', 'z');
    c.clear();
    expect(c.size).toBe(0);
  });
});

describe('MemoryCache TTL', () => {
  it('serves an entry for exactly ttlMs after it was set', async () => {
    const { clock, cache: c } = cache({ ttlMs: 1000 });
    c.set('k', 'v');
    await clock.advance(999);
    expect(c.get('k')).toBe('v');
    await clock.advance(1);
    expect(c.get('k')).toBeUndefined();
    expect(c.has('k')).toBe(false);
  });

  it('reads do not extend the time to live', async () => {
    const { clock, cache: c } = cache({ ttlMs: 1000 });
    c.set('k', 'v');
    await clock.advance(900);
    c.get('k');
    await clock.advance(100);
    expect(c.get('k')).toBeUndefined();
  });

  it('takes a per-entry ttlMs over the default', async () => {
    const { clock, cache: c } = cache({ ttlMs: 1000 });
    c.set('short', 'v', 10).set('long', 'v', 5000);
    await clock.advance(1000);
    expect(keysOf(c, ['short', 'long'])).toEqual(['long']);
  });

  it('counts only live entries in size', async () => {
    const { clock, cache: c } = cache({ ttlMs: 1000 });
    c.set('a', '1');
    await clock.advance(500);
    c.set('b', '2');
    expect(c.size).toBe(2);
    await clock.advance(500);
    expect(c.size).toBe(1);
  });

  it('never expires entries without a ttlMs', async () => {
    const { clock, cache: c } = cache();
    c.set('k', 'v');
    await clock.advance(365 * 24 * 60 * 60_000);
    expect(c.get('k')).toBe('v');
  });
});

describe('MemoryCache options', () => {
  it.each<[Record<string, unknown>, string]>([
    [{ max: 0 }, 'max must be a positive integer, got 0'],
    [{ ttlMs: -5 }, 'ttlMs must be a positive number, got -5'],
    [{ maxEntries: 10 }, "MemoryCache: unknown option 'maxEntries'"],
  ])('rejects %j', (options, message) => {
    expect(() => new MemoryCache(options)).toThrow(message);
  });

  it('rejects a bad per-entry ttlMs', () => {
    const c = new MemoryCache<string>();
    expect(() => c.set('k', 'v', 0)).toThrow(InvalidOptionError);
    expect(() => c.set('k', 'v', Number.NaN)).toThrow('ttlMs must be a positive number, got NaN');
  });

  it('defaults to 1000 entries and no expiry', () => {
    expect(new MemoryCache()).toMatchObject({ max: 1000, ttlMs: undefined });
  });
});

describe('MemoryCache.getOrLoad (single flight)', () => {
  it('runs the loader once for concurrent misses and caches the result', async () => {
    const { cache: c } = cache();
    const gate = deferred<string>();
    const loader = vi.fn(() => gate.promise);
    const calls = [c.getOrLoad('k', loader), c.getOrLoad('k', loader), c.getOrLoad('k', loader)];
    gate.resolve('value');
    expect(await Promise.all(calls)).toEqual(['value', 'value', 'value']);
    expect(await c.getOrLoad('k', loader)).toBe('value');
    expect(loader).toHaveBeenCalledTimes(1);
    expect(c.get('k')).toBe('value');
  });

  it('loads different keys separately', async () => {
    const { cache: c } = cache();
    const loader = vi.fn(async () => 'v');
    await Promise.all([c.getOrLoad('a', loader), c.getOrLoad('b', loader)]);
    expect(loader).toHaveBeenCalledTimes(2);
  });

  it('shares a rejection with every waiter and does not cache it', async () => {
    const { cache: c } = cache();
    const error = new Error('provider down');
    const failing = vi.fn(() => Promise.reject(error));
    const results = await Promise.all([
      outcome(c.getOrLoad('k', failing)),
      outcome(c.getOrLoad('k', failing)),
    ]);
    expect(results).toEqual([
      { ok: false, error },
      { ok: false, error },
    ]);
    expect(failing).toHaveBeenCalledTimes(1);
    expect(await c.getOrLoad('k', async () => 'recovered')).toBe('recovered');
  });

  it('recovers from a loader that throws synchronously', async () => {
    const { cache: c } = cache();
    const throwing = () => {
      throw new Error('sync');
    };
    await expect(c.getOrLoad('k', throwing as () => Promise<string>)).rejects.toThrow('sync');
    expect(await c.getOrLoad('k', async () => 'ok')).toBe('ok');
  });

  it('loads again after the entry expires, with the given ttlMs', async () => {
    const { clock, cache: c } = cache({ ttlMs: 10_000 });
    const loader = vi.fn(async () => 'v');
    await c.getOrLoad('k', loader, 100);
    await clock.advance(100);
    await c.getOrLoad('k', loader);
    expect(loader).toHaveBeenCalledTimes(2);
  });
});

describe('getOrLoad on any Cache', () => {
  /** A cache whose methods are async, like a Redis-backed one. */
  class AsyncMapCache implements Cache<string> {
    readonly map = new Map<string, { value: string; ttlMs: number | undefined }>();
    gets = 0;
    async get(key: string) {
      this.gets++;
      return this.map.get(key)?.value;
    }
    async set(key: string, value: string, ttlMs?: number) {
      this.map.set(key, { value, ttlMs });
    }
  }

  it('joins concurrent callers into one lookup and one load', async () => {
    const c = new AsyncMapCache();
    const loader = vi.fn(async () => 'v');
    const results = await Promise.all([getOrLoad(c, 'k', loader, 500), getOrLoad(c, 'k', loader, 500)]);
    expect(results).toEqual(['v', 'v']);
    expect(loader).toHaveBeenCalledTimes(1);
    expect(c.gets).toBe(1);
    expect(c.map.get('k')).toEqual({ value: 'v', ttlMs: 500 });
  });

  it('serves a hit without calling the loader', async () => {
    const c = new AsyncMapCache();
    await c.set('k', 'cached');
    const loader = vi.fn(async () => 'fresh');
    expect(await getOrLoad(c, 'k', loader)).toBe('cached');
    expect(loader).not.toHaveBeenCalled();
  });

  it('keeps flights of two caches apart', async () => {
    const a = new AsyncMapCache();
    const b = new AsyncMapCache();
    const loader = vi.fn(async () => 'v');
    await Promise.all([getOrLoad(a, 'k', loader), getOrLoad(b, 'k', loader)]);
    expect(loader).toHaveBeenCalledTimes(2);
  });
});
