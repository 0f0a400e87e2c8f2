/**
 * The client-process harness of the bench sections that run each strategy in its own Node process:
 * the bench forks the section's own file with a flag, the client loads and warms up, says `ready`,
 * waits for `go` (so the clock starts for every client the same way), runs and sends its report.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** What a client process sends to the bench. */
export type ClientMessage<Report> = { type: 'ready' } | { type: 'report'; report: Report };

/** One client process, loaded and warmed up, waiting for `go()`. */
export interface ReadyClient<Report> {
  go: () => void;
  report: Promise<Report>;
}

/**
 * Forks `moduleUrl` (the section's `import.meta.url`) through tsx with `args`; resolves once the client
 * has said `ready`, rejects if it fails or exits non-zero first. `label` names it in that error.
 */
export function startClientProcess<Report>(
  moduleUrl: string,
  args: string[],
  label: string,
): Promise<ReadyClient<Report>> {
  const child = fork(fileURLToPath(moduleUrl), args, {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const failed = new Promise<never>((_, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`${label} exited with ${code}`));
    });
  });
  const report = Promise.race([
    failed,
    new Promise<Report>((resolve) =>
      child.on('message', (m: ClientMessage<Report>) => m.type === 'report' && resolve(m.report)),
    ),
  ]);
  // A client that dies before reporting must not leave an unhandled rejection behind its ready promise.
  report.catch(() => {});
  const ready = new Promise<void>((resolve) =>
    child.on('message', (m: ClientMessage<Report>) => m.type === 'ready' && resolve()),
  );
  return Promise.race([failed, ready]).then(() => ({ go: () => child.send('go'), report }));
}

/**
 * The client side, run in the forked process: `run` warms up, calls `onReady`, waits for `go` and
 * returns its report, which is sent to the bench before the process exits.
 */
export async function serveClientProcess<Report>(
  run: (go: Promise<void>, onReady: () => void) => Promise<Report>,
): Promise<void> {
  const go = new Promise<void>((resolve) => process.once('message', () => resolve()));
  const report = await run(go, () => process.send!({ type: 'ready' } satisfies ClientMessage<Report>));
  process.send!({ type: 'report', report } satisfies ClientMessage<Report>, () => process.exit(0));
}
