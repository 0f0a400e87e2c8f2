import { UnrecoverableError, Worker, type ConnectionOptions, type Job, type WorkerOptions } from 'bullmq';
import { z } from 'zod';
import { assertNode, type AnyNode } from '../core/base-node';
import { Limiter } from '../limits/limiter';
import { addEventHook } from '../observability/throttle-event';
import { isRecord } from '../util/is-record';
import { formatValue, InvalidOptionError, opt, parseOptions } from '../validation/options';
import { findNotJson } from './json-safety';
import type { FlowJobData, FlowJobProgress } from './queue-batch-options';
import { unabsorbedRateLimit } from './unabsorbed-rate-limit';

/** Options of a {@link FlowWorker}: BullMQ's `WorkerOptions` plus two of its own. */
export interface FlowWorkerOptions extends Omit<WorkerOptions, 'connection' | 'autorun'> {
  /** Where Redis is: an ioredis `Redis`/`Cluster` (with `maxRetriesPerRequest: null`) or ioredis options. Required. */
  connection: ConnectionOptions;
  /**
   * How long the queue waits after a rate limit the sub-flow could not absorb, when the provider
   * said nothing (no retry-after).
   * @default 1_000
   */
  rateLimitDelayMs?: number;
  /**
   * Limiters whose 429s (`ratelimit` events) count in the producer's progress. Without them, the
   * 429s that throttled nodes report (their `call` events) count.
   * @default undefined
   */
  limiters?: readonly Limiter[];
}

/** Params every sub-flow run gets besides its own: for idempotency keys and logs. */
export interface FlowJobParams {
  /** The BullMQ job id (`<runId>-<index>`): the same on every delivery of one item, so a fine idempotency key. */
  jobId: string;
  /** How many times this job was started before (0 on the first delivery); > 0 means a call may be repeated. */
  deliveries: number;
}

const ownOptionsSchema = z.object({
  connection: z.custom<ConnectionOptions>(isRecord, { error: 'an ioredis client or connection options' }),
  rateLimitDelayMs: opt.nonNegativeNumber().optional(),
  limiters: z
    .array(z.instanceof(Limiter, { error: 'a Limiter' }), { error: 'an array of Limiters' })
    .optional(),
});

/** A BullMQ limiter so loose it never limits: `rateLimit(ms)` only pauses a queue whose worker has one. */
const NEVER_LIMITING = { max: 2 ** 31, duration: 1_000 };

/**
 * Runs `flow` once per job of `queue` (jobs a {@link QueueBatchFlow} added): with the job's params
 * (plus `jobId` and `deliveries`, see {@link FlowJobParams}) on the job's shared state, and stores
 * the final shared state as the job's result. A rate limit the flow could not absorb moves the job
 * back to wait (not an attempt) and pauses the queue for the provider's retry-after. BullMQ's own
 * options (`lockDuration`, `stalledInterval`, `maxStalledCount`, `concurrency` …) pass through.
 * Without a `limiter` option the worker gets one that never limits (`max` 2³¹ per second), because
 * BullMQ pauses a queue after `rateLimit(ms)` only for workers that have one.
 */
export class FlowWorker {
  /** The BullMQ worker, for its events (`completed`, `failed`, `stalled`, `error` …). */
  readonly worker: Worker<FlowJobData, Record<string, unknown>>;
  /** Jobs moved back to wait because of a rate limit, since start. */
  rateLimitedJobs = 0;
  private unreportedRateLimits = 0;
  private readonly removeHook: () => void;
  private readonly rateLimitDelayMs: number;

  constructor(queue: string, flow: AnyNode, options: FlowWorkerOptions) {
    if (typeof queue !== 'string' || queue.length === 0) {
      throw new InvalidOptionError(
        'queue',
        `FlowWorker: queue must be a non-empty string, got ${formatValue(queue)}`,
      );
    }
    assertNode(flow, 'FlowWorker: flow');
    const own = parseOptions(ownOptionsSchema, options, 'FlowWorker');
    const { rateLimitDelayMs: _delay, limiters: _limiters, ...workerOptions } = options;
    this.rateLimitDelayMs = own.rateLimitDelayMs ?? 1_000;
    // 429s seen in this process, reported with the next job's progress.
    const count = () => this.unreportedRateLimits++;
    if (own.limiters) {
      for (const limiter of own.limiters) limiter.on('ratelimit', count);
      this.removeHook = () => {
        for (const limiter of own.limiters ?? []) limiter.off('ratelimit', count);
      };
    } else {
      this.removeHook = addEventHook((event) => {
        if (event.type === 'call' && event.outcome === 'rate_limited') count();
      });
    }
    this.worker = new Worker<FlowJobData, Record<string, unknown>>(queue, (job) => this.process(flow, job), {
      limiter: NEVER_LIMITING,
      ...workerOptions,
    });
    // BullMQ re-emits connection errors and reconnects; without a listener Node would crash the process.
    this.worker.on('error', () => {});
  }

  /** Stops taking jobs, lets the running ones finish (their results are stored), then closes. */
  async close(): Promise<void> {
    try {
      await this.worker.close();
    } finally {
      this.removeHook();
    }
  }

  private async process(flow: AnyNode, job: Job<FlowJobData, Record<string, unknown>>) {
    // A job added by other code may lack either; the flow then starts from empty ones.
    const shared = job.data.shared ?? {};
    const params: Record<string, unknown> & FlowJobParams = {
      ...job.data.params,
      jobId: job.id ?? '',
      deliveries: Math.max(0, (job.attemptsStarted ?? 1) - 1),
    };
    const run = flow.clone();
    run.setParams(params);
    try {
      await run._run(shared as never);
    } catch (error) {
      const signal = unabsorbedRateLimit(error);
      if (!signal) throw error;
      this.rateLimitedJobs++;
      this.unreportedRateLimits++;
      await this.reportProgress(job);
      await this.worker.rateLimit(Math.max(1, Math.ceil(signal.retryAfterMs ?? this.rateLimitDelayMs)));
      throw Worker.RateLimitError();
    }
    const bad = findNotJson(shared, 'shared');
    if (bad) {
      // Retrying would end the same way: fail now, naming the key, rather than store a silent `{}`.
      throw new UnrecoverableError(
        `FlowWorker: the sub-flow's final shared state cannot be stored as JSON: ${bad.path} is ${bad.what}`,
      );
    }
    await this.reportProgress(job);
    return shared;
  }

  private async reportProgress(job: Job): Promise<void> {
    const rateLimited = this.unreportedRateLimits;
    if (rateLimited === 0) return;
    this.unreportedRateLimits = 0;
    await job.updateProgress({ rateLimited } satisfies FlowJobProgress).catch(() => undefined);
  }
}
