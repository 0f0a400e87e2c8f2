import { Queue, QueueEvents } from 'bullmq';
import { BaseNode } from '../core/base-node';
import type { Action, Params } from '../core/types';
import { BatchFlowError, type BatchFlowFailure } from '../errors/batch-flow-error';
import { InvalidOptionError, parseOptions } from '../validation/options';
import { connectionAddress, withinTimeout } from './connection';
import { assertRunId, jobIdFor } from './job-ids';
import { findNotJson } from './json-safety';
import {
  DEFAULT_JOB_OPTIONS,
  queueBatchFlowSchema,
  type FlowJobData,
  type QueueBatchFlowOptions,
} from './queue-batch-options';
import { RunCollector, type JobOutcome } from './run-collector';

/** Jobs added to Redis per `addBulk` call. */
const ADD_BATCH = 500;
const DEFAULT_OPERATION_TIMEOUT_MS = 5_000;

/**
 * A batch flow whose sub-flow runs on {@link FlowWorker}s, anywhere, through a BullMQ queue.
 * `prep(shared)` returns the param sets (as a `BatchFlow`'s); each becomes one durable job;
 * `post(shared, paramSets, results)` gets each sub-flow's final shared state, in input order.
 * Job ids are `<runId>-<index>`: running the same `runId` again adds nothing twice and returns the
 * stored results of jobs already done, so a producer that died can simply run again.
 *
 * What each sub-flow starts from is {@link QueueBatchFlow.jobShared} (default `{}`); it travels
 * as JSON. Delivery is at least once: a job whose worker died runs again on another worker
 * (docs/distributed.md).
 */
export class QueueBatchFlow<
  S = unknown,
  BatchParams extends object = Params,
  SubShared extends object = Record<string, unknown>,
> extends BaseNode<S, Params> {
  /** The BullMQ queue this flow's jobs go to. */
  readonly queueName: string;
  /** The run's name: job ids are `<runId>-<index>`. */
  readonly runId: string;
  /** Failed sub-flows of the last run with `onError: 'collect'`. */
  failures: BatchFlowFailure<BatchParams>[] = [];
  private readonly options: QueueBatchFlowOptions;

  constructor(options: QueueBatchFlowOptions) {
    super();
    const parsed = parseOptions(queueBatchFlowSchema, options, new.target.name);
    assertRunId(parsed.runId, new.target.name);
    this.options = parsed as QueueBatchFlowOptions;
    this.queueName = parsed.queue;
    this.runId = parsed.runId;
  }

  override async prep(_shared: S): Promise<BatchParams[] | undefined> {
    return [];
  }

  /**
   * The shared state one sub-flow starts from, sent with its job as JSON. Override it to hand each
   * sub-flow what it needs from the parent's state.
   */
  jobShared(_shared: S, _params: BatchParams): SubShared | Promise<SubShared> {
    return {} as SubShared;
  }

  override async post(
    _shared: S,
    _paramSets: BatchParams[],
    _results: (SubShared | undefined)[],
  ): Promise<Action | undefined> {
    return undefined;
  }

  override async _run(shared: S): Promise<Action | undefined> {
    const paramSets = (await this.prep(shared)) ?? [];
    const jobs = await this.jobData(shared, paramSets);
    const outcomes = await this.runJobs(jobs);
    const results: (SubShared | undefined)[] = [];
    const failures: BatchFlowFailure<BatchParams>[] = [];
    for (const [index, outcome] of outcomes.entries()) {
      if (outcome.ok) results.push(outcome.value as SubShared);
      else {
        results.push(undefined);
        failures.push({ index, params: paramSets[index]!, error: outcome.error });
      }
    }
    this.failures = failures;
    if (failures.length > 0 && (this.options.onError ?? 'throw') === 'throw') {
      throw new BatchFlowError(this.constructor.name, paramSets.length, failures);
    }
    return await this.post(shared, paramSets, results);
  }

  private async jobData(shared: S, paramSets: BatchParams[]): Promise<FlowJobData[]> {
    const jobs: FlowJobData[] = [];
    for (const [index, params] of paramSets.entries()) {
      const jobShared = await this.jobShared(shared, params);
      const merged = { ...this._params, ...params } as Record<string, unknown>;
      for (const [value, where] of [
        [jobShared, 'jobShared'],
        [merged, 'params'],
      ] as const) {
        const bad = findNotJson(value, where);
        if (bad) {
          throw new InvalidOptionError(
            where,
            `${this.constructor.name}: param set #${index}: ${bad.path} is ${bad.what}, which JSON cannot carry to a worker`,
          );
        }
      }
      jobs.push({ runId: this.runId, index, params: merged, shared: jobShared as Record<string, unknown> });
    }
    return jobs;
  }

  /** Adds the jobs (those already there are kept as they are) and waits for every outcome. */
  private async runJobs(jobs: FlowJobData[]): Promise<JobOutcome[]> {
    if (jobs.length === 0) return [];
    const { connection, prefix } = this.options;
    const address = connectionAddress(connection);
    const timeoutMs = this.options.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
    const base = { connection, ...(prefix === undefined ? {} : { prefix }) };
    const queue = new Queue<FlowJobData>(this.queueName, base);
    const events = new QueueEvents(this.queueName, base);
    // BullMQ re-emits connection errors here; without a listener Node would throw them.
    const ignore = () => {};
    queue.on('error', ignore);
    events.on('error', ignore);
    const ids = jobs.map((job) => jobIdFor(job.runId, job.index));
    const collector = new RunCollector(queue, events, ids, this.options.onProgress);
    let connected = false;
    try {
      const bounded = <T>(work: Promise<T>, operation: string) =>
        withinTimeout(work, { address, operation, timeoutMs, sources: [queue, events] });
      await bounded(Promise.all([queue.waitUntilReady(), events.waitUntilReady()]), 'connect');
      connected = true;
      const jobOptions = { ...DEFAULT_JOB_OPTIONS, ...this.options.jobOptions };
      const name = this.options.jobName ?? 'flow';
      for (let i = 0; i < jobs.length; i += ADD_BATCH) {
        const batch = jobs.slice(i, i + ADD_BATCH).map((data, j) => ({
          name,
          data,
          opts: { ...jobOptions, jobId: ids[i + j]! },
        }));
        await bounded(queue.addBulk(batch), 'enqueue');
      }
      await collector.start();
      await collector.done();
      return ids.map((id) => collector.outcomes.get(id)!);
    } finally {
      collector.stop();
      await closeAll([queue, events], connected);
    }
  }
}

async function closeAll(closables: readonly (Queue | QueueEvents)[], connected: boolean): Promise<void> {
  if (connected) await Promise.all(closables.map((c) => c.close().catch(() => undefined)));
  // Never connected: BullMQ's close would wait for a connection that may never come.
  else for (const c of closables) void c.disconnect().catch(() => undefined);
}
