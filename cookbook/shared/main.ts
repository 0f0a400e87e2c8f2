/** Lets each example's `main.ts` run itself with `npx tsx cookbook/<folder>/main.ts`. */
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Whether the module with `moduleUrl` (its `import.meta.url`) is the script node was started with. */
export function isMain(moduleUrl: string): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(fileURLToPath(moduleUrl)) === realpathSync(resolve(script));
  } catch {
    return false;
  }
}

/** Runs `run()` when the module is the entry script; a failure prints and sets the exit code. */
export function runIfMain(moduleUrl: string, run: () => Promise<unknown>): void {
  if (!isMain(moduleUrl)) return;
  run().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
