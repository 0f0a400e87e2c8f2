/**
 * One worker process of the distributed example: a FlowWorker running a one-node flow that
 * summarises one text through a Limiter on the Redis store (the same limiter name in every worker,
 * so one budget). Started by main.ts; run it yourself on other machines with the same settings.
 */
import { Redis } from 'ioredis';
import { FlowWorker, type FlowJobParams } from '../../src/bullmq/index';
import { Limiter, ThrottledParallelBatchNode } from '../../src/index';
import { RedisStore } from '../../src/stores/redis/index';
import { createLlm } from '../shared/llm';

/** What main.ts hands each worker (in the TF_DISTRIBUTED environment variable). */
export interface WorkerSettings {
  redisUrl: string;
  /** The hash tag every key of the run shares, `{…}`; its inside is the limiter's name. */
  tag: string;
  queue: string;
  simulatorUrl: string;
  requestsPerWindow: number;
  windowMs: number;
  windowMarginMs: number;
  maxConcurrent: number;
  concurrency: number;
  /** BullMQ's lock and throttleflow's lease TTL: set together (docs/distributed.md). */
  lockDurationMs: number;
}

interface JobShared {
  summary?: string;
  /** How many times this item was delivered before (> 0: its worker died mid-run). */
  deliveries?: number;
  /** Whether the result came from the idempotency record instead of a new call. */
  deduplicated?: boolean;
}

const settings = JSON.parse(process.env.TF_DISTRIBUTED ?? '{}') as WorkerSettings;
const name = settings.tag.slice(1, -1);

const client = new Redis(settings.redisUrl);
client.on('error', (error) => console.warn(`redis: ${error.message}`));
// Leases return within leaseTtlMs when a worker dies; the same span as BullMQ's lock.
const store = new RedisStore({ client, prefix: 'cookbook:', leaseTtlMs: settings.lockDurationMs });
const limiter = new Limiter({
  name,
  store,
  maxPerWindow: settings.requestsPerWindow,
  windowMs: settings.windowMs,
  windowMarginMs: settings.windowMarginMs,
  maxConcurrent: settings.maxConcurrent,
});
const llm = createLlm({ baseUrl: settings.simulatorUrl });

class Summarise extends ThrottledParallelBatchNode<JobShared, string, { text: string; reused: boolean }> {
  override limiter = limiter;
  override maxRateLimitRetries = 3;

  override async prep() {
    return [String(this.params.text)];
  }

  override async exec(text: string) {
    // Idempotency: the job id is the same on every delivery of this item. A result recorded by an
    // earlier delivery (whose worker died before BullMQ stored it) is used instead of a new call.
    const { jobId } = this.params as unknown as FlowJobParams;
    const key = `${settings.tag}:done:${jobId}`;
    const earlier = await client.get(key);
    if (earlier !== null) return { text: earlier, reused: true };
    const reply = await llm.complete(`Summarise in one line: ${text}`);
    await client.set(key, reply.text, 'EX', 86_400);
    return { text: reply.text, reused: false };
  }

  override async post(shared: JobShared, _texts: string[], results: { text: string; reused: boolean }[]) {
    shared.summary = results[0]!.text;
    shared.deduplicated = results[0]!.reused;
    shared.deliveries = (this.params as unknown as FlowJobParams).deliveries;
    return undefined;
  }
}

const worker = new FlowWorker(settings.queue, new Summarise(), {
  connection: { url: settings.redisUrl },
  prefix: settings.tag,
  concurrency: settings.concurrency,
  lockDuration: settings.lockDurationMs,
  stalledInterval: settings.lockDurationMs / 2,
  limiters: [limiter],
});

async function shutdown(): Promise<void> {
  await worker.close(); // running jobs finish and are stored; nothing new starts
  await store.close();
  await client.quit();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown());
process.on('message', (m: unknown) => {
  if (m === 'close') void shutdown();
});
await worker.worker.waitUntilReady();
process.send?.('ready');
