import type { ConnectionOptions, JobsOptions } from 'bullmq';
import { z } from 'zod';
import { isRecord } from '../util/is-record';
import { opt } from '../validation/options';

/** How a distributed run is going, over every worker: what the producer's `onProgress` gets. */
export interface QueueRunProgress {
  /** Param sets in this run. */
  total: number;
  /** Sub-flows finished with a result (including those already done before this call: a resumed run). */
  completed: number;
  /** Sub-flows failed after their retries. */
  failed: number;
  /** Of `completed`, those already done when this call started (their results were read, not rerun). */
  resumed: number;
  /** Rate limits (429s) the workers reported while running this run's jobs. */
  rateLimited: number;
  /** Milliseconds since this call started. */
  elapsedMs: number;
}

/** BullMQ job options for every job of a run (the job id is the run's own). */
export type QueueJobOptions = Omit<JobsOptions, 'jobId' | 'parent' | 'repeat' | 'deduplication'>;

/** Options of a {@link QueueBatchFlow}. */
export interface QueueBatchFlowOptions {
  /** The BullMQ queue the jobs go to; {@link FlowWorker}s on the same queue run them. */
  queue: string;
  /**
   * Where Redis is: an ioredis `Redis` or `Cluster`, or ioredis options (BullMQ opens its own
   * connections from them). Required.
   */
  connection: ConnectionOptions;
  /**
   * Names this run: job ids are `<runId>-<index>`, so running the same `runId` again adds no job
   * twice and returns the results of jobs already done. No `:` (BullMQ rejects it in job ids).
   */
  runId: string;
  /**
   * BullMQ's key prefix. On a Redis Cluster give it a hash tag (`'{openai}'`), see docs/distributed.md.
   * @default 'bull'
   */
  prefix?: string;
  /**
   * BullMQ job options for every job (attempts, backoff, priority, removeOnComplete …). Keep
   * completed jobs (the default) for as long as a run may be resumed: a removed job is run again.
   * @default { attempts: 3, backoff: { type: 'exponential', delay: 1_000 } }
   */
  jobOptions?: QueueJobOptions;
  /**
   * Failed sub-flows (after their retries): `'throw'` rejects `run` with a `BatchFlowError` listing
   * every one; `'collect'` records them in `failures`, passes `undefined` for them to `post`.
   * @default 'throw'
   */
  onError?: 'throw' | 'collect';
  /**
   * How long connecting to Redis and adding the jobs may take before `run` rejects with a
   * `StoreUnavailableError` naming the address (a refused connection rejects at once).
   * @default 5_000
   */
  operationTimeoutMs?: number;
  /**
   * Called whenever a job of this run finishes or a worker reports rate limits. Must not throw.
   * @default undefined
   */
  onProgress?: (progress: QueueRunProgress) => void;
  /**
   * The BullMQ job name of every job.
   * @default 'flow'
   */
  jobName?: string;
}

export const queueBatchFlowSchema = z.strictObject({
  queue: z.string({ error: 'a non-empty string' }).min(1, { error: 'a non-empty string' }),
  connection: z.custom<ConnectionOptions>(isRecord, { error: 'an ioredis client or connection options' }),
  runId: z.string({ error: 'a string' }),
  prefix: z.string({ error: 'a non-empty string' }).min(1, { error: 'a non-empty string' }).optional(),
  jobOptions: z.custom<QueueJobOptions>(isRecord, { error: 'BullMQ job options (an object)' }).optional(),
  onError: opt.oneOf(['throw', 'collect']).optional(),
  operationTimeoutMs: opt.positiveNumber().optional(),
  onProgress: opt.func().optional(),
  jobName: z.string({ error: 'a non-empty string' }).min(1, { error: 'a non-empty string' }).optional(),
});

export const DEFAULT_JOB_OPTIONS: QueueJobOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 1_000 },
};

/** What one job carries to the worker (BullMQ's `job.data`). */
export interface FlowJobData {
  /** The producer's `runId`. */
  runId: string;
  /** Position of the param set in what `prep` returned. */
  index: number;
  /** The param set, merged over the producer flow's own params. */
  params: Record<string, unknown>;
  /** What the sub-flow starts from: the producer's `jobShared(shared, params)`. */
  shared: Record<string, unknown>;
}

/** What a worker reports as a job's progress (`job.updateProgress`; summed by the producer). */
export interface FlowJobProgress {
  /** Rate limits seen since the worker's last report. */
  rateLimited: number;
}
