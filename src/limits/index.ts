export { systemClock, type Clock } from './clock';
export { Limiter, type AcquireOptions, type RunOptions as LimiterRunOptions, type LimiterStats } from './limiter';
export type { LimiterOptions, WindowOption } from './limiter-options';
export type { LimiterEvents } from './limiter-events';
export { Lease, type LeaseUsage } from './lease';
export { Aimd, type AimdOptions, type AimdStats } from './aimd';
export { SlidingWindowLog } from './sliding-window-log';
