/**
 * A Redis that cannot be reached says so at once: a refused connection, an unknown host or a bad
 * password fails the call with StoreUnavailableError naming the address and the client's error,
 * instead of waiting for `operationTimeoutMs` (30 s here, so a pass proves it did not wait).
 * Real ioredis clients with their default options (offline queue on, 20 retries per request).
 */
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { Cluster, Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Limiter } from '../../../src/limits/limiter';
import { isInvalidOptionError } from '../../../src/validation/options';
import { isStoreUnavailableError, RedisStore } from '../../../src/stores/redis/index';
import { describeAddress } from '../../../src/stores/redis/redis-address';
import { describeCause } from '../../../src/stores/redis/store-unavailable-error';
import { freePort, redisServerAvailable, startPrivateRedis } from './private-redis';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Far above any bound asserted below: a call that fails in time did not wait for it. */
const OPERATION_TIMEOUT_MS = 30_000;
/** Generous for a loaded machine, still well under the operation timeout. */
const PROMPT_MS = 5_000;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** `new Redis({ port })` with every other option left at ioredis's default, to a port nothing listens on. */
async function clientToNowhere(): Promise<{ client: Redis; address: string }> {
  const port = await freePort();
  const client = new Redis({ port });
  cleanups.push(() => client.disconnect());
  return { client, address: `${client.options.host}:${port}` };
}

function storeFor(
  client: Redis | Cluster,
  options: Partial<ConstructorParameters<typeof RedisStore>[0]> = {},
): RedisStore {
  const store = new RedisStore({ client, operationTimeoutMs: OPERATION_TIMEOUT_MS, ...options });
  cleanups.push(() => store.close());
  return store;
}

/** Runs `call` and says how long it took to settle and how. */
async function timed<T>(call: () => Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const started = performance.now();
  try {
    const value = await call();
    return { ms: performance.now() - started, value };
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
}

describe('RedisStore with a Redis that refuses the connection', () => {
  it("onStoreError 'fail': the first acquire rejects at once, naming the address and ECONNREFUSED", async () => {
    const consoleError = vi.spyOn(console, 'error');
    cleanups.push(() => consoleError.mockRestore());
    const { client, address } = await clientToNowhere(); // no error listener of its own
    const store = storeFor(client);
    const limiter = new Limiter({ name: 'nowhere', store, maxPerWindow: 10, windowMs: 1_000 });

    const first = await timed(() => limiter.acquire());
    const message = String((first.error as Error | undefined)?.message);
    console.log(
      `[unreachable redis] first acquire rejected after ${first.ms.toFixed(0)} ms (operationTimeoutMs ${OPERATION_TIMEOUT_MS}): ${message}`,
    );
    expect(isStoreUnavailableError(first.error)).toBe(true);
    expect(first.ms).toBeLessThan(PROMPT_MS);
    expect(message).toContain(address);
    expect(message).toContain('ECONNREFUSED');
    expect((first.error as Error).cause).toMatchObject({ code: 'ECONNREFUSED' });

    // Made while the failure is known: rejected before anything is sent.
    const second = await timed(() => limiter.acquire());
    console.log(`[unreachable redis] second acquire rejected after ${second.ms.toFixed(0)} ms`);
    expect(isStoreUnavailableError(second.error)).toBe(true);
    expect(second.ms).toBeLessThan(PROMPT_MS);
    // Nothing was left in ioredis's offline queue to run later, after its caller was told it failed.
    expect((client as unknown as { offlineQueue: { length: number } }).offlineQueue.length).toBe(0);

    // Reconnect attempts (after 50, 100, 150 ms …) report errors; the store's listener keeps
    // ioredis from printing "Unhandled error event" for each.
    await sleep(400);
    expect(consoleError.mock.calls.flat().join('\n')).not.toContain('Unhandled error event');
  });

  it("onStoreError 'local': the first acquire is served by the local fallback at once", async () => {
    const { client, address } = await clientToNowhere();
    const store = storeFor(client, { onStoreError: 'local', localFraction: 0.5 });
    const fallbacks: string[] = [];
    store.on('fallback', (e) => fallbacks.push(`${e.name} ${e.fraction} ${e.error.message}`));
    const limiter = new Limiter({
      name: 'nowhere-local',
      store,
      maxConcurrent: 4,
      maxPerWindow: 10,
      windowMs: 60_000,
    });

    const first = await timed(() => limiter.acquire({ timeoutMs: OPERATION_TIMEOUT_MS }));
    console.log(
      `[unreachable redis] 'local' fallback served the first acquire after ${first.ms.toFixed(0)} ms`,
    );
    expect(first.error).toBeUndefined();
    expect(first.ms).toBeLessThan(PROMPT_MS);
    expect(fallbacks).toHaveLength(1);
    expect(fallbacks[0]).toMatch(/^nowhere-local 0\.5 /);
    expect(fallbacks[0]).toContain(address);
    expect(fallbacks[0]).toContain('ECONNREFUSED');
    first.value!.release();
  });

  it("close() does not wait for the store's pub/sub connection that never connected", async () => {
    const { client } = await clientToNowhere();
    const store = new RedisStore({ client, onStoreError: 'local', localFraction: 0.5 });
    const limiter = new Limiter({ name: 'nowhere-close', store, maxConcurrent: 2 });
    const lease = await limiter.acquire();
    // Refused locally: the limiter subscribes to releases (a second connection, to nowhere).
    await expect(limiter.acquire({ timeoutMs: 100 })).rejects.toThrow();
    lease.release();
    const closing = await timed(() => store.close());
    expect(closing.error).toBeUndefined();
    expect(closing.ms).toBeLessThan(PROMPT_MS);
  });

  it('an unknown host fails at once with the resolver error (ENOTFOUND or EAI_AGAIN)', async () => {
    const client = new Redis({ host: 'no-such-host.invalid', port: 6379 });
    cleanups.push(() => client.disconnect());
    const store = storeFor(client);
    const result = await timed(() => store.snapshot('nowhere', []));
    expect(isStoreUnavailableError(result.error)).toBe(true);
    expect(result.ms).toBeLessThan(PROMPT_MS);
    expect(String((result.error as Error).message)).toMatch(
      /no-such-host\.invalid:6379 .*(ENOTFOUND|EAI_AGAIN)/,
    );
  });

  it('listens on the client until close(): one set of listeners per client, however many stores', async () => {
    const { client } = await clientToNowhere();
    const a = new RedisStore({ client });
    const b = new RedisStore({ client });
    expect(client.listenerCount('error')).toBe(1);
    await a.close();
    expect(client.listenerCount('error')).toBe(1);
    await b.close();
    expect(client.listenerCount('error')).toBe(0);
    expect(client.listenerCount('ready')).toBe(0);
  });

  it('validates reconnectGraceMs', async () => {
    const { client } = await clientToNowhere();
    let error: unknown;
    try {
      new RedisStore({ client, reconnectGraceMs: -1 });
    } catch (e) {
      error = e;
    }
    expect(isInvalidOptionError(error)).toBe(true);
    expect(String(error)).toMatch(/reconnectGraceMs/);
  });
});

/** A TCP server that accepts connections and never answers: a Redis that is connected but silent. */
async function silentServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  cleanups.push(close);
  return { port, close };
}

/** ioredis options under which a client is ready as soon as TCP connects (no INFO, no CLIENT SETINFO to answer). */
const readyAtConnect = { enableReadyCheck: false, disableClientInfo: true } as const;

describe('RedisStore with a Redis that is connected but silent', () => {
  it('operationTimeoutMs bounds the call, waiting for the ready check or for the reply', async () => {
    const { port } = await silentServer();
    const checking = new Redis({ host: '127.0.0.1', port }); // its ready check (INFO) is never answered
    const unchecked = new Redis({ host: '127.0.0.1', port, ...readyAtConnect });
    cleanups.push(
      () => checking.disconnect(),
      () => unchecked.disconnect(),
    );
    const [notReady, noReply] = await Promise.all([
      timed(() => storeFor(checking, { operationTimeoutMs: 300 }).snapshot('silent', [])),
      timed(() => storeFor(unchecked, { operationTimeoutMs: 300 }).snapshot('silent', [])),
    ]);
    expect(isStoreUnavailableError(notReady.error)).toBe(true);
    expect(String((notReady.error as Error).message)).toMatch(
      /not connected within 300 ms \(client status 'connect'\)/,
    );
    expect(isStoreUnavailableError(noReply.error)).toBe(true);
    expect(String((noReply.error as Error).message)).toContain('no reply within 300 ms');
    expect(Math.min(notReady.ms, noReply.ms)).toBeGreaterThanOrEqual(290);
  });

  it('a call in flight when the connection is lost fails once the grace is over and reconnects are refused', async () => {
    const server = await silentServer();
    const client = new Redis({ host: '127.0.0.1', port: server.port, ...readyAtConnect });
    cleanups.push(() => client.disconnect());
    if (client.status !== 'ready') await once(client, 'ready');
    const store = storeFor(client, { reconnectGraceMs: 200 });
    const inFlight = timed(() => store.snapshot('lost', []));
    await sleep(50);
    await server.close(); // the connection drops; the port refuses from now on
    const result = await inFlight;
    expect(isStoreUnavailableError(result.error)).toBe(true);
    expect(result.ms).toBeLessThan(PROMPT_MS);
    expect(String((result.error as Error).message)).toContain('ECONNREFUSED');
  });
});

describe('what a StoreUnavailableError says', () => {
  it("names the errno code when the message does not (Node's AggregateError for a refused localhost)", () => {
    const refused = Object.assign(
      new AggregateError(
        [new Error('connect ECONNREFUSED ::1:7'), new Error('connect ECONNREFUSED 127.0.0.1:7')],
        '',
      ),
      { code: 'ECONNREFUSED' },
    );
    expect(describeCause(refused)).toBe('connect ECONNREFUSED ::1:7; connect ECONNREFUSED 127.0.0.1:7');
    expect(describeCause(Object.assign(new AggregateError([], ''), { code: 'ECONNREFUSED' }))).toBe(
      'ECONNREFUSED',
    );
    expect(
      describeCause(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:7'), { code: 'ECONNREFUSED' })),
    ).toBe('connect ECONNREFUSED 127.0.0.1:7');
    expect(describeCause(Object.assign(new Error('read'), { code: 'ECONNRESET' }))).toBe('ECONNRESET (read)');
  });

  it("names a Cluster's startup nodes before it knows its nodes (without credentials)", () => {
    const cluster = new Cluster([{ host: '10.0.0.1', port: 7000 }, 'redis://user:secret@10.0.0.2:7001'], {
      lazyConnect: true,
    });
    cleanups.push(() => cluster.disconnect());
    expect(describeAddress(cluster)).toBe('cluster 10.0.0.1:7000,10.0.0.2:7001');
  });
});

describe.runIf(redisServerAvailable())('RedisStore when a Redis it was connected to goes away', () => {
  it('a restart shorter than reconnectGraceMs fails nothing: a call made meanwhile waits for the reconnect', async () => {
    const server = await startPrivateRedis();
    cleanups.push(() => server.stop());
    const client = new Redis({ port: server.port });
    cleanups.push(() => client.disconnect());
    await client.ping();
    const store = storeFor(client, { reconnectGraceMs: 10_000 });
    const limiter = new Limiter({ name: 'restart', store, maxPerWindow: 10, windowMs: 60_000 });

    const restarted = server.restart(300);
    await once(client, 'error'); // a reconnect attempt was refused
    const during = await timed(() => limiter.acquire());
    await restarted;
    expect(during.error).toBeUndefined();
    during.value!.release();
  });

  it('once the grace is over, a call fails at once with the connection error', async () => {
    const server = await startPrivateRedis();
    cleanups.push(() => server.stop());
    const client = new Redis({ port: server.port });
    cleanups.push(() => client.disconnect());
    await client.ping();
    const store = storeFor(client, { reconnectGraceMs: 200 });
    const limiter = new Limiter({ name: 'gone', store, maxPerWindow: 10, windowMs: 60_000 });

    await server.stop();
    await once(client, 'error');
    await sleep(250);
    const after = await timed(() => limiter.acquire());
    expect(isStoreUnavailableError(after.error)).toBe(true);
    expect(after.ms).toBeLessThan(PROMPT_MS);
    expect(String((after.error as Error).message)).toContain(`localhost:${server.port}`);
    expect(String((after.error as Error).message)).toContain('ECONNREFUSED');
  });

  it('a wrong password (WRONGPASS) or none (NOAUTH) fails at once, naming the reply', async () => {
    const server = await startPrivateRedis({ password: 'right' });
    cleanups.push(() => server.stop());
    for (const [password, reply] of [
      ['wrong', 'WRONGPASS'],
      [undefined, 'NOAUTH'],
    ] as const) {
      const client = new Redis({ port: server.port, password });
      cleanups.push(() => client.disconnect());
      const store = storeFor(client);
      const result = await timed(() => store.snapshot('auth', []));
      expect(isStoreUnavailableError(result.error)).toBe(true);
      expect(result.ms).toBeLessThan(PROMPT_MS);
      expect(String((result.error as Error).message)).toContain(reply);
    }
  });
});
