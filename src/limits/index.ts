// Public API of the limits feature: the limiter, its lease, events and options, AIMD, clocks and errors.
export { systemClock, abortReason, type Clock } from './clock';
export {
  Limiter,
  type AcquireOptions,
  type RunOptions as LimiterRunOptions,
  type WrapOptions as LimiterWrapOptions,
  type DrainOptions,
  type RateLimitReport,
  type LimiterStats,
} from './limiter';
export type { LimiterOptions, WindowOption, ResolvedWindow } from './limiter-options';
export type { ObserveOptions } from './provider-feedback';
export type {
  LimiterEvents,
  QueuedEvent,
  AcquireEvent,
  ReleaseEvent,
  PauseEvent,
  ResumeEvent,
  ResizeEvent,
  RateLimitEvent,
  LimitChangeEvent,
} from './limiter-events';
export { Lease, type LeaseUsage, type LeaseOwner } from './lease';
export { Aimd, type AimdOptions, type AimdStats } from './aimd';
export { SlidingWindowLog } from './sliding-window-log';
export { LimiterTimeoutError, isLimiterTimeoutError } from '../errors/limiter-timeout-error';
export { LimitExceededError, isLimitExceededError } from '../errors/limit-exceeded-error';
export { ShutdownError, isShutdownError } from '../errors/shutdown-error';
export { QueueFullError, isQueueFullError } from '../errors/queue-full-error';
export { isAbortError } from '../errors/abort-error';
