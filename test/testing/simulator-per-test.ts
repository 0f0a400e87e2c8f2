/**
 * One in-process provider simulator per test, closed after each test (also when the test fails), for
 * test files that start the simulator with different options in each test.
 */
import { afterEach } from 'vitest';
import {
  startProviderSimulator,
  type StartProviderSimulatorOptions,
} from '../../src/testing/provider-simulator';
import type { ProviderSimulator } from '../../src/testing/provider-simulator-types';

/** Call at the top of a test file: registers the `afterEach` that closes the test's simulator. */
export function simulatorPerTest(): {
  /** Starts this test's simulator. */
  start(options: StartProviderSimulatorOptions): Promise<ProviderSimulator>;
  /** The simulator this test started. */
  current(): ProviderSimulator;
} {
  let sim: ProviderSimulator | undefined;
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
  });
  return {
    async start(options) {
      sim = await startProviderSimulator(options);
      return sim;
    },
    current() {
      if (!sim) throw new Error('no simulator started in this test');
      return sim;
    },
  };
}
