/**
 * `throttleflow/testing`: tools for testing pipelines without a real provider: a fake clock and a provider simulator.
 * @module throttleflow/testing
 */
export { FakeClock } from './fake-clock';
export { startProviderSimulator, type StartProviderSimulatorOptions } from './provider-simulator';
export { spawnProviderSimulator } from './spawn-provider-simulator';
export type {
  ProviderSimulatorOptions,
  ResolvedSimulatorOptions,
  SimulatedOutage,
} from './provider-simulator-options';
export type {
  ProviderSimulator,
  SpawnedProviderSimulator,
  ProviderSimulatorStats,
  ProviderSimulatorLog,
} from './provider-simulator-types';
export { simulatorTokenCost, type SimulatorTokenCost } from './simulator-token-cost';
export {
  chatCompletion,
  ProviderHttpError,
  isProviderHttpError,
  type ChatCompletion,
  type ChatCompletionRequest,
} from './simulator-client';
