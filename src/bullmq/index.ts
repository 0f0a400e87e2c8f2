/**
 * `throttleflow/bullmq`: durable distributed runs on BullMQ (needs bullmq and ioredis). A
 * {@link QueueBatchFlow} puts one job per param set in a queue; {@link FlowWorker}s on any
 * machine run the sub-flow; throttleflow limiters on the Redis store keep one budget.
 * @module throttleflow/bullmq
 */
export { QueueBatchFlow } from './queue-batch-flow';
export type {
  FlowJobData,
  FlowJobProgress,
  QueueBatchFlowOptions,
  QueueJobOptions,
  QueueRunProgress,
} from './queue-batch-options';
export { FlowWorker, type FlowJobParams, type FlowWorkerOptions } from './flow-worker';
