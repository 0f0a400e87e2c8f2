/**
 * Big batches: no-op items through `ThrottledParallelBatchNode` and no-op param sets through
 * `ThrottledBatchFlow` (a one-node sub-flow), 1,000 at once, against p-limit(1,000) +
 * `Promise.all` over the same count, at 10k, 100k and 1M (10k and 100k with BENCH_QUICK=1), so
 * the scaling shows. Each case runs in a process of its own (bench/big-batch-case.ts), which
 * reports its time and its peak RSS and heap; the cases of one size run one after another.
 * Budget: under 100 s on an idle 2-core machine. Issue #18's target: ≤ 1.5 × p-limit's time
 * and ≤ 1.0 × its peak RSS at 1M.
 *
 * The cases run the library as it ships: built by tsup (without type declarations) into
 * bench/.cache/dist first, as p-limit runs from its own dist. Run from src/ through tsx, every
 * closure the library makes per item also gets a `__name` property defined (tsx compiles with
 * esbuild's keepNames), which no user of the package pays and which cost ~10–20 % here.
 */
import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BenchSection } from './sections';

/** What one case measured. */
export interface BigBatchRow {
  case: 'p-limit' | 'node' | 'flow';
  count: number;
  ms: number;
  peakRssMiB: number;
  peakHeapMiB: number;
  /** Time relative to p-limit at the same count. */
  timeVsPLimit: number;
  /** Peak RSS relative to p-limit at the same count. */
  rssVsPLimit: number;
}

const CASE_SCRIPT = fileURLToPath(new URL('./big-batch-case.ts', import.meta.url));
/** The built library the cases import (inside the project, so its dependencies resolve). */
const BUILT_DIR = fileURLToPath(new URL('./.cache/dist', import.meta.url));

/** Builds the package as published (tsup's config, no .d.ts) into {@link BUILT_DIR}. */
function buildLibrary(): void {
  const tsup = fileURLToPath(new URL('../node_modules/tsup/dist/cli-default.js', import.meta.url));
  execFileSync(process.execPath, [tsup, '--out-dir', BUILT_DIR, '--no-dts', '--silent'], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
const LABELS = {
  'p-limit': 'p-limit(1000) + Promise.all',
  node: 'ThrottledParallelBatchNode',
  flow: 'ThrottledBatchFlow',
} as const;

function runCase(
  name: BigBatchRow['case'],
  count: number,
): Promise<Omit<BigBatchRow, 'timeVsPLimit' | 'rssVsPLimit'>> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', CASE_SCRIPT, name, String(count)],
      {
        maxBuffer: 1 << 20,
        timeout: 300_000,
        env: { ...process.env, BIG_BATCH_LIBRARY: `${BUILT_DIR}/index.js` },
      },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`big-batch ${name} ${count}: ${stderr || error.message}`));
          return;
        }
        const line = stdout.trim().split('\n').at(-1) ?? '{}';
        const measured = JSON.parse(line) as { ms: number; peakRssMiB: number; peakHeapMiB: number };
        resolve({ case: name, count, ...measured });
      },
    );
  });
}

export const bigBatchSection: BenchSection = {
  name: 'big-batch',
  title: 'Big batch',
  async run({ quick }) {
    const counts = quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000];
    const rows: BigBatchRow[] = [];
    buildLibrary();
    console.log('| count | case | time | peak RSS | peak heap | time vs p-limit | RSS vs p-limit |');
    console.log('|---|---|---|---|---|---|---|');
    for (const count of counts) {
      const peer = await runCase('p-limit', count);
      for (const measured of [peer, await runCase('node', count), await runCase('flow', count)]) {
        const row: BigBatchRow = {
          ...measured,
          timeVsPLimit: measured.ms / peer.ms,
          rssVsPLimit: measured.peakRssMiB / peer.peakRssMiB,
        };
        rows.push(row);
        console.log(
          `| ${count.toLocaleString('en-US')} | ${LABELS[row.case]} | ${(row.ms / 1000).toFixed(2)} s | ` +
            `${row.peakRssMiB.toFixed(0)} MiB | ${row.peakHeapMiB.toFixed(0)} MiB | ` +
            `${row.timeVsPLimit.toFixed(2)} × | ${row.rssVsPLimit.toFixed(2)} × |`,
        );
      }
    }
    console.log(
      "\nNo-op work, 1,000 at once, each case in its own process; times vary with the machine's load.\n",
    );
    return { concurrency: 1_000, rows };
  },
};
