// Public API of throttleflow. Each feature folder has its own barrel; this file only re-exports.
export * from './core/index';
export * from './limits/clock';
export { InvalidOptionError, isInvalidOptionError } from './validation/options';
export * from './resilience/index';
export * from './cost/index';
export * from './observability/index';
export * from './presets/index';
