/**
 * One case of the big-batch section, run in a process of its own so its time and peak memory are
 * its alone: `npx tsx bench/big-batch-case.ts <p-limit|node|flow> <count>`. Prints one JSON line:
 * `{ ms, peakRssMiB, peakHeapMiB }`. The input array is built before the clock starts (every case
 * has one); the work is a no-op, so only the library's own cost shows.
 */
import pLimit from 'p-limit';
import type * as Library from '../src/index';

// The built package when the section gives one (see big-batch.ts), else the source.
const { Node, ThrottledBatchFlow, ThrottledParallelBatchNode } = (await import(
  process.env.BIG_BATCH_LIBRARY ?? '../src/index'
)) as typeof Library;

/** Concurrency of every case: items (or sub-flows) at once. */
export const BIG_BATCH_CONCURRENCY = 1_000;

type CaseName = 'p-limit' | 'node' | 'flow';

let peakHeap = 0;
const sampleHeap = () => {
  const heap = process.memoryUsage().heapUsed;
  if (heap > peakHeap) peakHeap = heap;
};

async function pLimitCase(count: number): Promise<void> {
  const items = Array.from({ length: count }, (_, i) => i);
  const started = performance.now();
  const limit = pLimit(BIG_BATCH_CONCURRENCY);
  const results = await Promise.all(items.map((i) => limit(async () => i)));
  report(started, results.length === count && results[count - 1] === count - 1);
}

async function nodeCase(count: number): Promise<void> {
  const items = Array.from({ length: count }, (_, i) => i);
  let results: number[] = [];
  class NoOp extends ThrottledParallelBatchNode<unknown, number, number> {
    override async prep() {
      return items;
    }
    override async exec(i: number) {
      return i;
    }
    override async post(_s: unknown, _p: unknown, out: number[]) {
      results = out;
      return undefined;
    }
  }
  const node = new NoOp({ maxConcurrent: BIG_BATCH_CONCURRENCY, warnings: false });
  const started = performance.now();
  await node.run({});
  report(started, results.length === count && results[count - 1] === count - 1);
}

async function flowCase(count: number): Promise<void> {
  const params = Array.from({ length: count }, (_, i) => ({ i }));
  let runs = 0;
  class NoOp extends Node {
    override async exec() {
      runs++;
    }
  }
  class PerUser extends ThrottledBatchFlow {
    override async prep() {
      return params;
    }
  }
  const flow = new PerUser(new NoOp(), { maxConcurrentFlows: BIG_BATCH_CONCURRENCY });
  const started = performance.now();
  await flow.run({});
  report(started, runs === count);
}

function report(startedMs: number, correct: boolean): void {
  const ms = performance.now() - startedMs;
  sampleHeap();
  if (!correct) throw new Error('big-batch case: wrong result');
  const peakRssMiB = process.resourceUsage().maxRSS / 1024;
  console.log(JSON.stringify({ ms, peakRssMiB, peakHeapMiB: peakHeap / 2 ** 20 }));
}

const [name, countText] = process.argv.slice(2) as [CaseName, string];
const count = Number(countText);
const warnings: string[] = [];
process.on('warning', (w) => warnings.push(`${w.name}: ${w.message}`));
const sampler = setInterval(sampleHeap, 5);
const cases: Record<CaseName, (n: number) => Promise<void>> = {
  'p-limit': pLimitCase,
  node: nodeCase,
  flow: flowCase,
};
await cases[name](count);
clearInterval(sampler);
// A warning (MaxListenersExceededWarning or any other) fails the case.
await new Promise((resolve) => setImmediate(resolve));
if (warnings.length > 0) throw new Error(`big-batch case ${name} ${count}: ${warnings.join('; ')}`);
