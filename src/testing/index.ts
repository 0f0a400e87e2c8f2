// Public API of `throttleflow/testing`: tools for testing pipelines without a real provider.
export { FakeClock } from '../limits/fake-clock';
