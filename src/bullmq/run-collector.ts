import type { Queue, QueueEvents } from 'bullmq';
import { isRecord } from '../util/is-record';
import type { QueueRunProgress } from './queue-batch-options';

/** How one job of a run ended. */
export type JobOutcome = { ok: true; value: unknown } | { ok: false; error: Error };

/** How often job states are read again, in case an event was missed (events are the fast path). */
const RECONCILE_MS = 10_000;
/** Job states read from Redis at once while reconciling. */
const RECONCILE_BATCH = 200;

/**
 * Collects the outcome of every job of one run, from QueueEvents (`completed`, `failed`,
 * `progress`) and, for jobs that finished before the events were subscribed (a resumed run) or
 * whose event was missed, from the jobs' own state in Redis.
 */
export class RunCollector {
  readonly outcomes = new Map<string, JobOutcome>();
  private readonly ids: Set<string>;
  private resumed = 0;
  private rateLimited = 0;
  private readonly startedAt = performance.now();
  private finished: () => void = () => {};
  private readonly allDone: Promise<void>;
  private reconcileTimer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly queue: Queue,
    private readonly events: QueueEvents,
    ids: readonly string[],
    private readonly onProgress: ((progress: QueueRunProgress) => void) | undefined,
  ) {
    this.ids = new Set(ids);
    this.allDone = new Promise((resolve) => (this.finished = resolve));
    events.on('completed', this.onCompleted);
    events.on('failed', this.onFailed);
    events.on('progress', this.onJobProgress);
  }

  /** Reads the state of every job not settled yet (call once the jobs are added), then every 10 s. */
  async start(): Promise<void> {
    await this.reconcile(true);
    this.reconcileTimer = setInterval(() => void this.reconcile(false).catch(() => undefined), RECONCILE_MS);
  }

  /** Resolves once every job has an outcome. */
  async done(): Promise<void> {
    await this.allDone;
  }

  stop(): void {
    clearInterval(this.reconcileTimer);
    this.events.off('completed', this.onCompleted);
    this.events.off('failed', this.onFailed);
    this.events.off('progress', this.onJobProgress);
  }

  progress(): QueueRunProgress {
    let completed = 0;
    for (const outcome of this.outcomes.values()) if (outcome.ok) completed++;
    return {
      total: this.ids.size,
      completed,
      failed: this.outcomes.size - completed,
      resumed: this.resumed,
      rateLimited: this.rateLimited,
      elapsedMs: performance.now() - this.startedAt,
    };
  }

  private readonly onCompleted = ({ jobId, returnvalue }: { jobId: string; returnvalue: unknown }) =>
    this.settle(jobId, { ok: true, value: returnvalue });

  private readonly onFailed = ({ jobId, failedReason }: { jobId: string; failedReason: string }) =>
    this.settle(jobId, { ok: false, error: jobError(jobId, failedReason) });

  private readonly onJobProgress = ({ jobId, data }: { jobId: string; data: unknown }) => {
    if (!this.ids.has(jobId) || !isRecord(data) || typeof data.rateLimited !== 'number') return;
    if (data.rateLimited <= 0) return;
    this.rateLimited += data.rateLimited;
    this.report();
  };

  private settle(jobId: string, outcome: JobOutcome, resumed = false): void {
    if (!this.ids.has(jobId) || this.outcomes.has(jobId)) return;
    this.outcomes.set(jobId, outcome);
    if (resumed && outcome.ok) this.resumed++;
    this.report();
    if (this.outcomes.size === this.ids.size) this.finished();
  }

  private report(): void {
    try {
      this.onProgress?.(this.progress());
    } catch {
      // A display must not break the run.
    }
  }

  private async reconcile(initial: boolean): Promise<void> {
    const pending = [...this.ids].filter((id) => !this.outcomes.has(id));
    for (let i = 0; i < pending.length; i += RECONCILE_BATCH) {
      const batch = pending.slice(i, i + RECONCILE_BATCH);
      const states = await Promise.all(batch.map((id) => this.queue.getJobState(id)));
      for (const [j, state] of states.entries()) {
        const id = batch[j]!;
        if (state === 'completed' || state === 'failed') {
          const job = await this.queue.getJob(id);
          if (!job) continue;
          if (state === 'completed') this.settle(id, { ok: true, value: job.returnvalue }, initial);
          else this.settle(id, { ok: false, error: jobError(id, job.failedReason) }, initial);
        } else if (state === 'unknown') {
          this.settle(id, { ok: false, error: jobError(id, 'the job is gone (removed from the queue)') });
        }
      }
    }
  }
}

function jobError(jobId: string, reason: string): Error {
  const error = new Error(`job ${jobId} failed: ${reason}`);
  error.name = 'QueueJobError';
  return error;
}
