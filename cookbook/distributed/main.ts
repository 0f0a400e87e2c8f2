/**
 * Durable distributed runs on BullMQ: one command starts the provider simulator (its own process),
 * three worker processes and a producer; a third of the way through it SIGKILLs one worker, and
 * the run still finishes with every item. The workers share one budget through a Limiter on the
 * Redis store; the queue hands the dead worker's jobs to the others once its lock expires.
 *
 *   npx tsx cookbook/distributed/main.ts          (Redis at REDIS_URL, default redis://127.0.0.1:6379)
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { QueueBatchFlow, type QueueRunProgress } from '../../src/bullmq/index';
import { spawnProviderSimulator } from '../../src/testing/index';
import { etaMs, RecentRate, statusText } from '../../demo/progress';
import { sampleDocuments } from '../data/sample-texts';
import { runIfMain } from '../shared/main';
import type { ProviderReport } from '../shared/provider';
import { Printer, providerLine, type Output, type Summary } from '../shared/report';
import type { WorkerSettings } from './worker';

/** Options of {@link run}. */
export interface DistributedOptions extends Output {
  /** Texts to summarise. @default 300 */
  items?: number;
  /** The simulated provider's request limit per window (rejected requests count too). @default 100 */
  requestsPerWindow?: number;
  /** The simulated provider's window. @default 3_000 */
  windowMs?: number;
  /** BullMQ's lock duration and the leases' TTL: how soon a dead worker's jobs and slots come back. @default 2_000 */
  lockDurationMs?: number;
  /** Redis to use. @default REDIS_URL or redis://127.0.0.1:6379 */
  redisUrl?: string;
}

/** What {@link run} resolves to. */
export interface DistributedSummary extends Summary {
  /** The pid of the worker killed mid-run. */
  killedPid: number;
  /** Items delivered more than once (their first worker died). */
  redelivered: number;
  /** Provider calls made for an item that had already been served (accepted − items). */
  duplicateCalls: number;
  /** Redelivered items whose result came from the idempotency record, not a new call. */
  deduplicated: number;
}

interface JobShared {
  summary?: string;
  deliveries?: number;
  deduplicated?: boolean;
}

const WORKERS = 3;

class SummariseAll extends QueueBatchFlow<
  { texts: string[]; summaries?: (JobShared | undefined)[] },
  { text: string },
  JobShared
> {
  override async prep(shared: { texts: string[] }) {
    return shared.texts.map((text) => ({ text }));
  }
  override async post(
    shared: { summaries?: (JobShared | undefined)[] },
    _p: unknown,
    results: (JobShared | undefined)[],
  ) {
    shared.summaries = results;
    return undefined;
  }
}

function startWorker(settings: WorkerSettings): Promise<ChildProcess> {
  const child = fork(fileURLToPath(new URL('./worker.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, TF_DISTRIBUTED: JSON.stringify(settings) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`worker exited with code ${code} before it was ready`)));
  });
}

export async function run(options: DistributedOptions = {}): Promise<DistributedSummary> {
  const out = new Printer(options.quiet);
  const items = options.items ?? 300;
  const requestsPerWindow = options.requestsPerWindow ?? 100;
  const windowMs = options.windowMs ?? 3_000;
  const lockDurationMs = options.lockDurationMs ?? 2_000;
  const redisUrl = options.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const started = performance.now();

  const sim = await spawnProviderSimulator({
    requestsPerWindow,
    windowMs,
    countRejected: true,
    latencyMs: 300,
    jitterMs: 100,
  });
  // One hash tag for the queue's and the limiter's keys (one Redis Cluster slot); fresh per run.
  const tag = `{distributed-${randomBytes(3).toString('hex')}}`;
  const settings: WorkerSettings = {
    redisUrl,
    tag,
    queue: 'summaries',
    simulatorUrl: sim.url,
    requestsPerWindow,
    windowMs,
    // A fifth of the short demo window: covers a loaded machine's scheduling lag (see the README).
    windowMarginMs: Math.round(windowMs / 5),
    maxConcurrent: requestsPerWindow,
    concurrency: Math.ceil((requestsPerWindow * 1.2) / WORKERS),
    lockDurationMs,
  };
  const workers = await Promise.all(Array.from({ length: WORKERS }, () => startWorker(settings)));
  out.title(
    `Distributed on BullMQ: ${items} texts, ${WORKERS} worker processes, provider ${requestsPerWindow} per ${windowMs / 1000} s`,
  );

  const texts = sampleDocuments(items);
  const victim = workers[1]!;
  let killed = false;
  const rate = new RecentRate(windowMs);
  let latest: QueueRunProgress | undefined;
  const line = (p: QueueRunProgress, doneInMs?: number) =>
    out.line(
      `  ${String(p.completed).padStart(String(items).length)}/${items} done | ` +
        statusText({
          perSecond: rate.perSecond(500),
          rateLimited: p.rateLimited,
          failed: p.failed,
          etaMs: etaMs(items - p.completed - p.failed, rate.perSecond(windowMs)),
          ...(doneInMs === undefined ? {} : { doneInMs }),
        }),
    );
  const runStarted = performance.now();
  // Sampled on every update and every second, so the rate also falls while nothing finishes.
  const ticker = setInterval(() => {
    if (!latest) return;
    rate.add(performance.now() - runStarted, latest.completed);
    line(latest);
  }, 1_000);
  const flow = new SummariseAll({
    queue: settings.queue,
    connection: { url: redisUrl },
    prefix: tag,
    runId: 'summaries',
    onProgress: (p) => {
      latest = p;
      rate.add(performance.now() - runStarted, p.completed);
      if (!killed && p.completed >= items / 3) {
        killed = true;
        victim.kill('SIGKILL');
        out.line(
          `  ✗ SIGKILL worker pid ${victim.pid} with its jobs in flight: others take them after its lock expires`,
        );
      }
    },
  });
  const shared: { texts: string[]; summaries?: (JobShared | undefined)[] } = { texts };
  try {
    await flow.run(shared);
  } finally {
    clearInterval(ticker);
    for (const w of workers) if (w !== victim) w.send('close');
    await Promise.all(
      workers
        .filter((w) => w !== victim && w.exitCode === null)
        .map((w) => new Promise((r) => w.once('exit', r))),
    );
  }
  const elapsedMs = performance.now() - started;
  if (latest) line(latest, elapsedMs);
  const stats = await sim.stats();
  await sim.close();
  const queue = new Queue(settings.queue, { connection: { url: redisUrl }, prefix: tag });
  await queue.obliterate({ force: true });
  await queue.close();

  const summaries = shared.summaries ?? [];
  const done = summaries.filter((s) => s?.summary !== undefined).length;
  const redelivered = summaries.filter((s) => (s?.deliveries ?? 0) > 0).length;
  const deduplicated = summaries.filter((s) => s?.deduplicated).length;
  const provider: ProviderReport = {
    name: 'openai',
    target: 'simulator',
    calls: stats.accepted + stats.rejected,
    succeeded: stats.accepted,
    rateLimited: stats.rejected,
    overloaded: 0,
    maxInFlight: stats.maxInFlight,
    requestsPerWindow,
    windowMs,
    maxRequestsInAnyWindow: stats.maxRequestsInAnyWindow,
  };
  out.line();
  out.line(`  ${providerLine(provider)}`);
  out.line(
    `  ${done}/${items} summaries; ${redelivered} items delivered again after the kill, ` +
      `${stats.accepted - items} provider calls made twice, ${deduplicated} answered from the idempotency record`,
  );
  return {
    example: 'distributed',
    items,
    done,
    lost: items - done,
    elapsedMs,
    providers: [provider],
    stats: {},
    killedPid: victim.pid ?? -1,
    redelivered,
    duplicateCalls: stats.accepted - items,
    deduplicated,
  };
}

runIfMain(import.meta.url, run);
