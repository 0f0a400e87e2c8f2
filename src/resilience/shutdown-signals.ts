import { z } from 'zod';
import { systemClock, type Clock } from '../util/clock';
import { opt, parseOptions } from '../validation/options';
import { isClock } from '../util/is-clock';
import { TimeoutError } from './timeout-error';

/** The part of Node's `process` that {@link onShutdown} uses (inject a fake one in tests). */
export interface ShutdownProcess {
  on(event: string, listener: (signal: string) => void): unknown;
  removeListener(event: string, listener: (signal: string) => void): unknown;
  exit(code?: number): void;
}

/** Options of {@link onShutdown}. */
export interface ShutdownOptions {
  /**
   * Process signals that start the shutdown.
   * @default ['SIGTERM', 'SIGINT']
   */
  signals?: readonly string[];
  /**
   * Longest the handler may run, in milliseconds; after it the process exits anyway (code 1).
   * Keep it below your platform's kill delay (Kubernetes: 30 s by default).
   * @default 10_000
   */
  timeoutMs?: number;
  /**
   * Whether to call `process.exit` once the handlers are done: code 0 when every handler
   * succeeded, 1 when one failed or timed out. Turn it off when something else ends the process.
   * @default true
   */
  exit?: boolean;
  /**
   * Receives a handler's failure (or its {@link TimeoutError}).
   * @default logs with console.error
   */
  onError?: (error: unknown) => void;
  /**
   * Source of time for `timeoutMs` (inject a `FakeClock` in tests).
   * @default systemClock
   */
  clock?: Clock;
  /**
   * The process to listen on (inject a fake in tests).
   * @default globalThis.process (nothing is installed where there is none, e.g. in browsers)
   */
  process?: ShutdownProcess;
}

const isProcess = (v: unknown): v is ShutdownProcess =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as ShutdownProcess).on === 'function' &&
  typeof (v as ShutdownProcess).removeListener === 'function' &&
  typeof (v as ShutdownProcess).exit === 'function';

const schema = z.strictObject({
  signals: z
    .array(opt.string(), { error: 'an array of signal names' })
    .min(1, { error: 'a non-empty array' })
    .default(['SIGTERM', 'SIGINT']),
  timeoutMs: opt.positiveNumber().default(10_000),
  exit: opt.boolean().default(true),
  onError: opt.func().optional(),
  clock: opt.instance(isClock, 'a Clock with now() and sleep()').optional(),
  process: opt.instance(isProcess, 'a process with on(), removeListener() and exit()').optional(),
});

interface Registration {
  handler: (signal: string) => Promise<void>;
  signals: ReadonlySet<string>;
  timeoutMs: number;
  exit: boolean;
  onError: (error: unknown) => void;
  clock: Clock;
}

/** Everything installed on one process: one listener per signal, shared by all registrations. */
interface ProcessHooks {
  registrations: Set<Registration>;
  listeners: Map<string, (signal: string) => void>;
  shuttingDown: boolean;
}

const hooksByProcess = new WeakMap<ShutdownProcess, ProcessHooks>();

function defaultProcess(): ShutdownProcess | undefined {
  const candidate = (globalThis as { process?: unknown }).process;
  return isProcess(candidate) ? candidate : undefined;
}

function logError(error: unknown): void {
  (globalThis as { console?: { error(...args: unknown[]): void } }).console?.error(
    'throttleflow: shutdown handler failed:',
    error,
  );
}

/** Runs one handler within its timeout; resolves true when it finished in time without throwing. */
async function runWithin(registration: Registration, signal: string): Promise<boolean> {
  const deadline = new AbortController();
  const timedOut = registration.clock.sleep(registration.timeoutMs, deadline.signal).then(
    () => {
      throw new TimeoutError(
        registration.timeoutMs,
        `Shutdown handler did not finish within ${registration.timeoutMs} ms`,
      );
    },
    () => {}, // cancelled: the handler finished first
  );
  try {
    await Promise.race([Promise.resolve().then(() => registration.handler(signal)), timedOut]);
    return true;
  } catch (error) {
    try {
      registration.onError(error);
    } catch {
      // an onError that throws must not stop the exit
    }
    return false;
  } finally {
    deadline.abort();
  }
}

async function shutDown(proc: ShutdownProcess, hooks: ProcessHooks, signal: string): Promise<void> {
  if (hooks.shuttingDown) {
    // A second signal while handlers run: the operator insists (Ctrl-C twice), so stop now.
    proc.exit(1);
    return;
  }
  hooks.shuttingDown = true;
  const running = [...hooks.registrations].filter((r) => r.signals.has(signal));
  const results = await Promise.all(running.map((r) => runWithin(r, signal)));
  if (running.some((r) => r.exit)) proc.exit(results.every(Boolean) ? 0 : 1);
}

/** Makes the installed listeners match the signals the registrations ask for. */
function syncListeners(proc: ShutdownProcess, hooks: ProcessHooks): void {
  const wanted = new Set<string>();
  for (const r of hooks.registrations) for (const s of r.signals) wanted.add(s);
  for (const [signal, listener] of hooks.listeners) {
    if (!wanted.has(signal)) {
      proc.removeListener(signal, listener);
      hooks.listeners.delete(signal);
    }
  }
  for (const signal of wanted) {
    if (hooks.listeners.has(signal)) continue;
    const listener = () => void shutDown(proc, hooks, signal);
    proc.on(signal, listener);
    hooks.listeners.set(signal, listener);
  }
  if (hooks.registrations.size === 0) hooksByProcess.delete(proc);
}

/**
 * Runs `handler` (e.g. `() => limiter.drain()`) when the process receives one of `signals`, then
 * exits. However many handlers are registered, each signal gets one listener: on a signal every
 * handler registered for it runs concurrently, each within its own `timeoutMs`, and the process
 * exits once, after all of them. A second signal during the shutdown exits at once with code 1.
 *
 * Returns a function that unregisters the handler (and removes the listeners nobody needs any
 * more). Where there is no `process` (browsers, workers) it installs nothing.
 *
 * @example
 * const uninstall = onShutdown(async () => { await server.close(); await limiter.drain(); });
 */
export function onShutdown(
  handler: (signal: string) => Promise<void>,
  options: ShutdownOptions = {},
): () => void {
  const parsed = parseOptions(schema, options, 'onShutdown');
  const proc = parsed.process ?? defaultProcess();
  if (!proc) return () => {};
  let hooks = hooksByProcess.get(proc);
  if (!hooks) {
    hooks = { registrations: new Set(), listeners: new Map(), shuttingDown: false };
    hooksByProcess.set(proc, hooks);
  }
  const registration: Registration = {
    handler,
    signals: new Set(parsed.signals),
    timeoutMs: parsed.timeoutMs,
    exit: parsed.exit,
    onError: (parsed.onError as ((error: unknown) => void) | undefined) ?? logError,
    clock: parsed.clock ?? systemClock,
  };
  hooks.registrations.add(registration);
  syncListeners(proc, hooks);
  const owned = hooks;
  let installed = true;
  return () => {
    if (!installed) return;
    installed = false;
    owned.registrations.delete(registration);
    syncListeners(proc, owned);
  };
}
