// Public API of throttleflow. Each feature folder has its own barrel; this file only re-exports.
export * from './limits/clock';
