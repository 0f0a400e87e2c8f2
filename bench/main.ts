/**
 * `npm run bench`: every section in one run — limiter overhead vs p-limit/p-queue, goodput vs
 * p-limit/p-queue/Bottleneck on the provider simulator, and the Redis store vs
 * rate-limiter-flexible — then bench/results.json and SVG charts in docs/bench/. Budget: under
 * 5 minutes on a 2-core machine (issue #10).
 *
 * Environment, for development (a run that uses any of them prints its tables but writes neither
 * bench/results.json nor the charts, so a partial run never replaces a full one):
 *
 *   BENCH_SECTIONS=limiter,goodput,redis   run only these sections (comma-separated; see sections.ts for the rest)
 *   BENCH_SCENARIOS=countRejected          goodput: only scenarios whose name contains this
 *   BENCH_STRATEGIES=p-limit,Bottleneck    goodput: only strategies whose name contains one of these
 *   BENCH_GOODPUT=phased|alone|together    goodput: how strategies share the machine (see goodput.ts)
 *   BENCH_QUICK=1                          limiter and Redis sections in a few seconds (noisy numbers)
 *   BENCH_ONLY_OURS=1                      goodput: throttleflow's strategies only, no peers
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { rejectionsChart, windowChart } from './charts';
import { LOCKOUT_MS, benchGoodput, parseSchedule, type GoodputRow } from './goodput';
import { benchLimiter, type LimiterBenchResult } from './limiter';
import { benchRedis, type RedisBenchResult } from './redis';
import { EXTRA_SECTIONS } from './sections';

/** Event-loop stall in a goodput client above which the summary warns (quiet runs stay under ~250 ms). */
const STALL_WARN_MS = 500;

const SECTIONS = ['limiter', 'goodput', 'redis', ...EXTRA_SECTIONS.map((s) => s.name)];
type Section = string;

const wanted = (process.env.BENCH_SECTIONS ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
for (const name of wanted) {
  if (!(SECTIONS as readonly string[]).includes(name))
    throw new Error(`BENCH_SECTIONS: unknown section ${name} (known: ${SECTIONS.join(', ')})`);
}
const runs = (section: Section) => wanted.length === 0 || wanted.includes(section);
const quick = process.env.BENCH_QUICK === '1';
const scenarioFilter = process.env.BENCH_SCENARIOS;
const strategyNames = (process.env.BENCH_STRATEGIES ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const schedule = parseSchedule(process.env.BENCH_GOODPUT);
const partial =
  wanted.length > 0 ||
  quick ||
  Boolean(scenarioFilter) ||
  strategyNames.length > 0 ||
  schedule !== 'phased' ||
  Boolean(process.env.BENCH_ONLY_OURS);

const started = Date.now();
const sectionS: Record<Section, number> = {};
async function timed<T>(section: Section, run: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  try {
    return await run();
  } finally {
    sectionS[section] = (Date.now() - t0) / 1000;
    console.log(`(${section}: ${sectionS[section].toFixed(0)} s)`);
  }
}

const machine = `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
console.log(
  `throttleflow bench — ${new Date().toISOString()} — ${machine}${partial ? ' — partial run, nothing written' : ''}\n`,
);

let limiter: LimiterBenchResult | undefined;
if (runs('limiter')) {
  console.log('## Limiter overhead');
  limiter = await timed('limiter', () =>
    benchLimiter(quick ? { tasks: 20_000, rounds: 2, queuedTasks: 100_000 } : {}),
  );
}

let goodput: GoodputRow[] = [];
if (runs('goodput')) {
  console.log(
    `\n## Goodput on the provider simulator (each strategy with its own client and simulator process; schedule: ${schedule})`,
  );
  goodput = await timed('goodput', () =>
    benchGoodput({
      schedule,
      ...(scenarioFilter ? { filter: (name: string) => name.includes(scenarioFilter) } : {}),
      ...(strategyNames.length > 0
        ? { strategyFilter: (name: string) => strategyNames.some((s) => name.includes(s)) }
        : {}),
    }),
  );
}

let redis: RedisBenchResult | { skipped: string } | undefined;
if (runs('redis')) {
  console.log('\n## Redis store');
  redis = await timed('redis', async () => {
    try {
      return await benchRedis(quick ? { durationMs: 500, warmupMs: 200 } : {});
    } catch (error) {
      // The other sections still stand; say plainly why this one is missing.
      const skipped = {
        skipped: `Redis section failed: ${error instanceof Error ? error.message : String(error)}`,
      };
      console.log(skipped.skipped);
      return skipped;
    }
  });
}

const extras: Record<string, unknown> = {};
for (const section of EXTRA_SECTIONS) {
  if (!runs(section.name)) continue;
  console.log(`\n## ${section.title}`);
  extras[section.name] = await timed(section.name, async () => {
    try {
      return await section.run({ quick });
    } catch (error) {
      // The other sections still stand; say plainly why this one is missing.
      const failed = {
        failed: `${section.name} section failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      };
      console.log(failed.failed);
      return failed;
    }
  });
}

const durationS = (Date.now() - started) / 1000;
if (!partial) {
  await mkdir('docs/bench', { recursive: true });
  const strip = goodput.map(({ acceptedAtMs, acceptedCosts, rejectedAtMs, ...row }) => ({
    ...row,
    acceptedCount: acceptedAtMs.length,
    rejectedCount: rejectedAtMs.length,
  }));
  await writeFile(
    'bench/results.json',
    JSON.stringify(
      {
        date: new Date().toISOString(),
        machine,
        durationS,
        sectionS,
        goodputSchedule: schedule,
        lockoutS: LOCKOUT_MS / 1000,
        limiter,
        goodput: strip,
        redis,
        ...extras,
      },
      null,
      2,
    ) + '\n',
  );
  for (const scenario of [...new Set(goodput.map((r) => r.scenario))]) {
    const rows = goodput.filter((r) => r.scenario === scenario);
    const file = `docs/bench/window-${scenario
      .replace(/[^a-z0-9]+/gi, '-')
      .replace(/^-|-$/g, '')
      .toLowerCase()}.svg`;
    await writeFile(file, windowChart(rows, `Provider window over time — ${scenario}`));
  }
  await writeFile('docs/bench/rejections.svg', rejectionsChart(goodput));
}

if (goodput.length > 0) {
  console.log('\n## Summary');
  console.table(
    goodput.map((r) => ({
      scenario: r.scenario,
      strategy: r.strategy,
      '429s': r.rejected429,
      '429 %': ((100 * r.rejected429) / r.items).toFixed(1),
      lost: r.lost,
      failed: r.failedItems + (r.lockedOutItems > 0 ? ` (locked out at ${LOCKOUT_MS / 1000} s)` : ''),
      efficiency: r.efficiency.toFixed(3),
    })),
  );
  // A client starved of CPU (by its neighbours or by other work on the machine) misjudges time;
  // its row is then not what the strategy does on a quiet machine.
  const stalled = goodput.filter((r) => r.loopDelayMaxMs > STALL_WARN_MS);
  if (stalled.length > 0) {
    console.log(
      `Client event loop stalled over ${STALL_WARN_MS} ms (treat these rows with care): ${stalled.map((r) => `${r.scenario} · ${r.strategy} ${r.loopDelayMaxMs.toFixed(0)} ms`).join('; ')}`,
    );
  }
}
const where = partial
  ? 'partial run: bench/results.json and charts left as they were'
  : 'results in bench/results.json, charts in docs/bench/';
console.log(
  `bench finished in ${durationS.toFixed(0)} s (${Object.entries(sectionS)
    .map(([k, v]) => `${k} ${v.toFixed(0)} s`)
    .join(', ')}); ${where}`,
);
