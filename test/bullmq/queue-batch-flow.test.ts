/**
 * QueueBatchFlow and FlowWorker in one process against the real Redis: results in input order, a
 * second run of the same runId served from the stored results, bad input, a 429 the sub-flow
 * cannot absorb (moved back, never failed), a non-JSON final state, an unreachable Redis.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FlowWorker, QueueBatchFlow } from '../../src/bullmq/index';
import { Flow } from '../../src/core/flow';
import { Node } from '../../src/core/node';
import { isBatchFlowError } from '../../src/errors/batch-flow-error';
import { isStoreUnavailableError } from '../../src/stores/redis/index';
import { isInvalidOptionError } from '../../src/validation/options';
import { freePort } from '../stores/redis/private-redis';
import {
  describeRedis,
  openRedisTestEnv,
  REDIS_HOST,
  REDIS_PORT,
  type RedisTestEnv,
} from '../stores/redis/redis-test-env';

const connection = { host: REDIS_HOST, port: REDIS_PORT };

interface Item {
  n: number;
}

/** Squares `params.n` into the sub-flow's shared state; counts its exec calls; records job ids. */
class Square extends Node<Record<string, unknown>> {
  static calls = 0;
  static jobIds: string[] = [];
  override async prep() {
    return this.params;
  }
  override async exec(params: unknown) {
    Square.calls++;
    const p = params as { n: number; jobId: string };
    Square.jobIds.push(p.jobId);
    return p.n * p.n;
  }
  override async post(shared: Record<string, unknown>, _p: unknown, square: unknown) {
    shared.square = square;
    return undefined;
  }
}

class Squares extends QueueBatchFlow<
  { items: number[]; out?: unknown[] },
  Item,
  { base: number; square?: number }
> {
  override async prep(shared: { items: number[] }) {
    return shared.items.map((n) => ({ n }));
  }
  override jobShared(_shared: unknown, params: Item) {
    return { base: params.n };
  }
  override async post(shared: { out?: unknown[] }, _p: Item[], results: unknown[]) {
    shared.out = results;
    return undefined;
  }
}

describeRedis('QueueBatchFlow + FlowWorker (one process, real Redis)', () => {
  let env: RedisTestEnv;
  let prefix: string;
  const closers: (() => Promise<unknown>)[] = [];
  beforeAll(async () => {
    env = await openRedisTestEnv(import.meta.url);
    prefix = env.prefix.slice(0, -1);
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await env?.close();
  });
  const worker = (queue: string, flow: Flow | Node, options: Record<string, unknown> = {}) => {
    const w = new FlowWorker(queue, flow, { connection, prefix, concurrency: 4, ...options });
    closers.push(() => w.close());
    return w;
  };

  it('runs one job per param set, returns each final shared state in input order; the same runId again runs nothing', async () => {
    worker('squares', new Flow(new Square()));
    Square.calls = 0;
    const items = Array.from({ length: 20 }, (_, i) => i);
    const progress: number[] = [];
    const make = () =>
      new Squares({
        queue: 'squares',
        connection,
        prefix,
        runId: 'run-1',
        onProgress: (p) => progress.push(p.completed),
      });
    const shared: { items: number[]; out?: unknown[] } = { items };
    await make().run(shared);
    expect(shared.out).toEqual(items.map((n) => ({ base: n, square: n * n })));
    expect(Square.calls).toBe(20);
    expect(progress.at(-1)).toBe(20);
    // The idempotency key: each job saw its own id.
    expect(new Set(Square.jobIds).size).toBe(20);
    expect(Square.jobIds).toContain('run-1-7');

    const again: { items: number[]; out?: unknown[] } = { items };
    let resumed = 0;
    await new Squares({
      queue: 'squares',
      connection,
      prefix,
      runId: 'run-1',
      onProgress: (p) => (resumed = p.resumed),
    }).run(again);
    expect(again.out).toEqual(shared.out);
    expect(Square.calls).toBe(20);
    expect(resumed).toBe(20);
  }, 30_000);

  it('bad input: no connection, a runId with a colon, non-JSON job state', async () => {
    const noConnection = () => new QueueBatchFlow({ queue: 'q', runId: 'r' } as never);
    expect(noConnection).toThrow(/connection must be an ioredis client or connection options, got undefined/);
    expect(isInvalidOptionError(catchError(noConnection))).toBe(true);
    expect(() => new FlowWorker('q', new Square(), {} as never)).toThrow(/connection must be/);
    const colon = catchError(() => new QueueBatchFlow({ queue: 'q', runId: 'a:b', connection }));
    expect(isInvalidOptionError(colon)).toBe(true);
    expect((colon as Error).message).toMatch(/runId must not contain ':'.*'a:b'/);

    class BadShared extends Squares {
      override jobShared() {
        return { base: 1, client: new Map() } as never;
      }
    }
    const bad = new BadShared({ queue: 'q', connection, prefix, runId: 'bad' });
    await expect(bad.run({ items: [1] })).rejects.toThrow(/jobShared\.client is a Map/);
  });

  it('a sub-flow whose final shared state is not JSON fails its job at once, naming the key', async () => {
    class Leaky extends Node<Record<string, unknown>> {
      override async post(shared: Record<string, unknown>) {
        shared.nested = { ok: 1, handle: () => 1 };
        return undefined;
      }
    }
    const w = worker('leaky', new Leaky());
    const flow = new Squares({ queue: 'leaky', connection, prefix, runId: 'leak', onError: 'collect' });
    const shared: { items: number[]; out?: unknown[] } = { items: [1, 2] };
    await flow.run(shared);
    expect(shared.out).toEqual([undefined, undefined]);
    expect(flow.failures.map((f) => f.index)).toEqual([0, 1]);
    expect(String(flow.failures[0]!.error)).toMatch(/shared\.nested\.handle is a function/);
    const thrown = await new Squares({ queue: 'leaky', connection, prefix, runId: 'leak' })
      .run({ items: [1, 2] })
      .catch((e: unknown) => e);
    expect(isBatchFlowError(thrown)).toBe(true);
    expect((thrown as { failures: unknown[] }).failures).toHaveLength(2);
    // One attempt each (UnrecoverableError), though the default allows 3.
    const job = await new Queue('leaky', { connection, prefix }).getJob('leak-0');
    expect(job?.attemptsMade).toBe(1);
    expect(w.rateLimitedJobs).toBe(0);
  }, 30_000);

  it('a 429 the sub-flow cannot absorb moves the job back without an attempt: never failed, all done', async () => {
    const seen = new Set<string>();
    class Flaky extends Node<Record<string, unknown>> {
      override async exec() {
        const id = String(this.params.jobId);
        if (!seen.has(id)) {
          seen.add(id);
          throw Object.assign(new Error('429 Too Many Requests'), {
            status: 429,
            headers: { 'retry-after-ms': '100' },
          });
        }
        return 'ok';
      }
      override async post(shared: Record<string, unknown>, _p: unknown, r: unknown) {
        shared.result = r;
        return undefined;
      }
    }
    const w = worker('flaky', new Flaky());
    const progress: number[] = [];
    const flow = new Squares({
      queue: 'flaky',
      connection,
      prefix,
      runId: 'flaky',
      // One attempt: a 429 that counted as one would fail the job.
      jobOptions: { attempts: 1 },
      onProgress: (p) => progress.push(p.rateLimited),
    });
    const shared: { items: number[]; out?: unknown[] } = { items: [1, 2, 3, 4, 5] };
    await flow.run(shared);
    expect(shared.out).toEqual([1, 2, 3, 4, 5].map((n) => ({ base: n, result: 'ok' })));
    expect(w.rateLimitedJobs).toBe(5);
    expect(progress.at(-1)).toBe(5);
    const queue = new Queue('flaky', { connection, prefix });
    closers.push(() => queue.close());
    expect(await queue.getFailedCount()).toBe(0);
    const jobs = await Promise.all([0, 1, 2, 3, 4].map((i) => queue.getJob(`flaky-${i}`)));
    expect(jobs.map((j) => j?.attemptsMade)).toEqual([1, 1, 1, 1, 1]);
  }, 30_000);

  it('close() drains: the running jobs finish and their results are stored; nothing new starts', async () => {
    let started = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    class Slow extends Node<Record<string, unknown>> {
      override async exec() {
        started++;
        await gate;
        return 'done';
      }
      override async post(shared: Record<string, unknown>, _p: unknown, r: unknown) {
        shared.result = r;
        return undefined;
      }
    }
    const w = new FlowWorker('drain', new Slow(), { connection, prefix, concurrency: 2 });
    const producer = new Squares({ queue: 'drain', connection, prefix, runId: 'drain' });
    const shared: { items: number[]; out?: unknown[] } = { items: [1, 2, 3, 4] };
    const running = producer.run(shared);
    while (started < 2) await new Promise((r) => setTimeout(r, 10));
    const closing = w.close();
    release();
    await closing;
    expect(started).toBe(2);
    const queue = new Queue('drain', { connection, prefix });
    closers.push(() => queue.close());
    expect(await queue.getCompletedCount()).toBe(2);
    expect(await queue.getWaitingCount()).toBe(2);
    // Another worker picks up the rest; the producer gets all four.
    worker('drain', new Slow());
    await running;
    expect(shared.out).toEqual([1, 2, 3, 4].map((n) => ({ base: n, result: 'done' })));
  }, 30_000);

  it('Redis unreachable: run rejects with StoreUnavailableError naming the address, within operationTimeoutMs', async () => {
    const port = await freePort();
    const flow = new Squares({
      queue: 'nowhere',
      connection: { host: '127.0.0.1', port },
      runId: 'x',
      operationTimeoutMs: 2_000,
    });
    const error = await flow.run({ items: [1] }).catch((e: unknown) => e);
    expect(isStoreUnavailableError(error)).toBe(true);
    expect((error as Error).message).toContain(`127.0.0.1:${port}`);
  }, 10_000);

  it('a Redis that accepts the connection and never answers: rejected after operationTimeoutMs, naming the address', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as AddressInfo;
    try {
      const flow = new Squares({
        queue: 'silent',
        connection: { host: '127.0.0.1', port, connectTimeout: 60_000 },
        runId: 'x',
        operationTimeoutMs: 500,
      });
      const error = await flow.run({ items: [1] }).catch((e: unknown) => e);
      expect(isStoreUnavailableError(error)).toBe(true);
      expect((error as Error).message).toMatch(
        new RegExp(`127\\.0\\.0\\.1:${port} unavailable during connect: no reply within 500 ms`),
      );
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  }, 10_000);
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}
