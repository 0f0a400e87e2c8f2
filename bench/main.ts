/**
 * `npm run bench`: every section in one run — limiter overhead vs p-limit/p-queue, goodput vs
 * p-limit/p-queue/Bottleneck on the provider simulator, and the Redis store vs
 * rate-limiter-flexible — then bench/results.json and SVG charts in docs/.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { rejectionsChart, windowChart } from './charts';
import { benchGoodput } from './goodput';
import { benchLimiter } from './limiter';
import { benchRedis } from './redis';

const started = Date.now();
const machine = `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
console.log(`throttleflow bench — ${new Date().toISOString()} — ${machine}\n`);

console.log('## Limiter overhead');
const limiter = await benchLimiter();

console.log('\n## Goodput on the provider simulator (each strategy with its own client and simulator process)');
const goodput = await benchGoodput();

console.log('\n## Redis store');
let redis: Awaited<ReturnType<typeof benchRedis>> | { skipped: string };
try {
  redis = await benchRedis();
} catch (error) {
  // The other sections still stand; say plainly why this one is missing.
  redis = { skipped: `Redis section failed: ${error instanceof Error ? error.message : String(error)}` };
  console.log(redis.skipped);
}

await mkdir('docs/bench', { recursive: true });
const strip = goodput.map(({ acceptedAtMs, acceptedCosts, rejectedAtMs, ...row }) => ({ ...row, acceptedCount: acceptedAtMs.length, rejectedCount: rejectedAtMs.length }));
await writeFile(
  'bench/results.json',
  JSON.stringify({ date: new Date().toISOString(), machine, durationS: (Date.now() - started) / 1000, limiter, goodput: strip, redis }, null, 2) + '\n',
);
for (const scenario of [...new Set(goodput.map((r) => r.scenario))]) {
  const rows = goodput.filter((r) => r.scenario === scenario);
  const file = `docs/bench/window-${scenario.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase()}.svg`;
  await writeFile(file, windowChart(rows, `Provider window over time — ${scenario}`));
}
await writeFile('docs/bench/rejections.svg', rejectionsChart(goodput));

console.log('\n## Summary');
console.table(
  goodput.map((r) => ({
    scenario: r.scenario,
    strategy: r.strategy,
    '429s': r.rejected429,
    '429 %': ((100 * r.rejected429) / r.items).toFixed(1),
    lost: r.lost,
    efficiency: r.efficiency.toFixed(3),
  })),
);
console.log(`bench finished in ${((Date.now() - started) / 1000).toFixed(0)} s; results in bench/results.json, charts in docs/bench/`);
