// Child-process entry of `spawnProviderSimulator`: runs one simulator and reports its URL over
// the IPC channel. The options arrive as JSON in argv[2]. The child exits when the parent
// disconnects (close() or the parent dying), so it never outlives the run.
import { startProviderSimulator } from './provider-simulator';
import type { StartProviderSimulatorOptions } from './provider-simulator';

/** Messages the child sends its parent. */
export type SimulatorProcessMessage =
  { type: 'ready'; url: string; port: number } | { type: 'error'; message: string };

async function main(): Promise<void> {
  const send = (message: SimulatorProcessMessage) => process.send?.(message);
  try {
    const options = JSON.parse(process.argv[2] ?? '{}') as StartProviderSimulatorOptions;
    const simulator = await startProviderSimulator(options);
    const stop = () => {
      void simulator.close().finally(() => process.exit(0));
    };
    process.once('disconnect', stop);
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    send({ type: 'ready', url: simulator.url, port: simulator.port });
  } catch (error) {
    send({ type: 'error', message: error instanceof Error ? error.message : String(error) });
    process.exitCode = 1;
    process.disconnect?.();
  }
}

void main();
