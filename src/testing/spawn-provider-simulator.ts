import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { StartProviderSimulatorOptions } from './provider-simulator';
import { resolveSimulatorOptions, type ResolvedSimulatorOptions } from './provider-simulator-options';
import type {
  ProviderSimulatorLog,
  ProviderSimulatorStats,
  SpawnedProviderSimulator,
} from './provider-simulator-types';
import type { SimulatorProcessMessage } from './simulator-process';

const STARTUP_TIMEOUT_MS = 30_000;
const EXIT_TIMEOUT_MS = 5_000;
const ENTRY_NAME = 'simulator-process';

/**
 * Runs the provider simulator in its own child process — as a real provider does not share your
 * event loop, so the client's timing does not disturb the provider's clock — and talks to it
 * over HTTP. Same shape as `startProviderSimulator`, with async `stats()`, `log()`, `reset()` and
 * `setOptions()`. Works from source (through tsx) and from the built package.
 */
export async function spawnProviderSimulator(
  options: StartProviderSimulatorOptions = {},
): Promise<SpawnedProviderSimulator> {
  const { port: _port, ...simulatorOptions } = options;
  resolveSimulatorOptions(simulatorOptions); // fail here, with a clear error, not in the child
  const entry = locateEntry();
  const child = fork(entry.file, [JSON.stringify(options)], {
    execArgv: entry.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'json',
  });
  const { url, port } = await waitUntilReady(child);
  const pid = child.pid ?? -1;

  const call = async <T>(path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${url}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json' },
      // `undefined` would vanish from JSON; `null` tells the simulator to clear that option.
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body, (_key, value: unknown) => (value === undefined ? null : value)) }),
    });
    const payload = (await response.json()) as T & { error?: { message?: string } };
    if (!response.ok)
      throw new Error(`provider simulator ${path}: ${payload.error?.message ?? response.status}`);
    return payload;
  };

  return {
    url,
    port,
    pid,
    stats: () => call<ProviderSimulatorStats>('/stats'),
    log: () => call<ProviderSimulatorLog>('/log'),
    reset: async () => {
      await call('/reset', {});
    },
    setOptions: async (update) => {
      await call('/options', update);
    },
    options: () => call<ResolvedSimulatorOptions>('/options'),
    close: () => stopChild(child),
  };
}

/** The child entry next to this module (`.ts` from source, `.js`/`.cjs` from the build). */
function locateEntry(): { file: string; execArgv: string[] } {
  const here = currentModuleFile();
  const dir = dirname(here);
  const ownExt = extname(here);
  for (const ext of [ownExt, '.js', '.mjs', '.cjs', '.ts', '.mts']) {
    const file = join(dir, `${ENTRY_NAME}${ext}`);
    if (!existsSync(file)) continue;
    return { file, execArgv: /\.[mc]?ts$/.test(ext) ? tsxExecArgv(here) : [] };
  }
  throw new Error(
    `spawnProviderSimulator: cannot find ${ENTRY_NAME}.{js,cjs,ts} next to ${here}; the build must emit it as an entry`,
  );
}

/** Source files run through tsx's loader, resolved from here so the caller's cwd does not matter. */
function tsxExecArgv(fromFile: string): string[] {
  try {
    const loader = createRequire(fromFile).resolve('tsx');
    return ['--import', pathToFileURL(loader).href];
  } catch {
    return ['--import', 'tsx'];
  }
}

function currentModuleFile(): string {
  // ESM (source under tsx or vitest, and the .js build) has import.meta.url; the CJS build has
  // __filename instead (there import.meta is an empty object).
  const url = (import.meta as { url?: string }).url;
  if (typeof url === 'string' && url.startsWith('file:')) return fileURLToPath(url);
  if (typeof __filename === 'string') return __filename;
  throw new Error('spawnProviderSimulator: cannot tell where this module lives');
}

function waitUntilReady(child: ChildProcess): Promise<{ url: string; port: number }> {
  return new Promise((resolve, reject) => {
    const fail = (error: Error) => {
      cleanup();
      child.kill('SIGKILL');
      reject(error);
    };
    const onMessage = (message: SimulatorProcessMessage) => {
      if (message.type === 'ready') {
        cleanup();
        resolve({ url: message.url, port: message.port });
      } else {
        fail(new Error(`provider simulator failed to start: ${message.message}`));
      }
    };
    const onExit = (code: number | null) =>
      fail(new Error(`provider simulator exited during startup (code ${code})`));
    const onError = (error: Error) => fail(error);
    const timer = setTimeout(
      () => fail(new Error('provider simulator did not start in time')),
      STARTUP_TIMEOUT_MS,
    );
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      child.off('error', onError);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    // Disconnecting is the child's cue to close its server and exit.
    if (child.connected) child.disconnect();
    else child.kill('SIGTERM');
  });
}
