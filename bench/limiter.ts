/**
 * Limiter overhead against the usual concurrency limiters, in one run on the same machine:
 * 100 000 no-op tasks through `limiter.run` with `maxConcurrent: 100` (and once more with a
 * sliding window that never binds) against p-limit(100) and p-queue({ concurrency: 100 }),
 * best of several rounds after a warm-up; then the heap that 1 000 000 queued tasks take, against
 * p-limit. The garbage collector runs before every round and measurement (exposed at run time, no
 * flag needed), so no round pays for the garbage of the one before. Run alone with
 * `npx tsx bench/limiter.ts`.
 */
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import pLimit from 'p-limit';
import PQueue from 'p-queue';
import { Limiter } from '../src/limits/limiter';

/** Options of {@link benchLimiter}. */
export interface LimiterBenchOptions {
  /** Tasks per timed round. @default 100_000 */
  tasks?: number;
  /** Concurrency of every contender. @default 100 */
  concurrency?: number;
  /** Timed rounds per contender (the best counts). @default 5 */
  rounds?: number;
  /** Tasks queued at once for the memory measurement. @default 1_000_000 */
  queuedTasks?: number;
  /** Print the tables. @default true */
  print?: boolean;
}

/** One contender's timing. */
export interface ThroughputRow {
  name: string;
  /** Best round, in ms. */
  bestMs: number;
  /** Median round, in ms. */
  medianMs: number;
  /** Slowest round, in ms. */
  worstMs: number;
  /** Tasks per second in the best round. */
  tasksPerSecond: number;
  /** Best time relative to p-limit's best (lower is faster). */
  vsPLimit: number;
  /** The spread: the lowest and highest ratio to p-limit's time in the same round. */
  vsPLimitPerRound: [number, number];
}

/** One contender's memory for `queuedTasks` waiting tasks. */
export interface MemoryRow {
  name: string;
  /** Heap growth with every task queued, in MiB. */
  heapDeltaMiB: number;
  /** Bytes per queued task. */
  bytesPerTask: number;
  /** Relative to p-limit. */
  vsPLimit: number;
}

/** What {@link benchLimiter} measured. */
export interface LimiterBenchResult {
  tasks: number;
  concurrency: number;
  rounds: number;
  throughput: ThroughputRow[];
  queuedTasks: number;
  memory: MemoryRow[];
  /** The target: the limiter takes at most 1.5 × p-limit's time. */
  targetRatio: number;
  /** Whether both limiter rows meet the target. */
  meetsTarget: boolean;
}

const noop = async (): Promise<void> => {};

type Contender = { name: string; make: () => (task: () => Promise<void>) => Promise<void> };

function contenders(concurrency: number): Contender[] {
  return [
    {
      name: 'p-limit',
      make: () => {
        const limit = pLimit(concurrency);
        return (task) => limit(task);
      },
    },
    {
      name: 'p-queue',
      make: () => {
        const queue = new PQueue({ concurrency });
        return (task) => queue.add(task);
      },
    },
    {
      name: 'Limiter (maxConcurrent)',
      make: () => {
        const limiter = new Limiter({ maxConcurrent: concurrency });
        return (task) => limiter.run(task);
      },
    },
    {
      name: 'Limiter (+ window)',
      make: () => {
        // A sliding window far above what the run starts: it is checked and charged on every start, never binds.
        // No-op tasks carry no provider headers; the warning about that is not what is measured.
        const limiter = new Limiter({
          maxConcurrent: concurrency,
          maxPerMinute: 1_000_000_000,
          warnings: false,
        });
        return (task) => limiter.run(task);
      },
    },
  ];
}

async function timeRound(make: Contender['make'], tasks: number): Promise<number> {
  const run = make();
  const pending = new Array<Promise<void>>(tasks);
  const start = performance.now();
  for (let i = 0; i < tasks; i++) pending[i] = run(noop);
  await Promise.all(pending);
  return performance.now() - start;
}

/**
 * A full GC. Without `--expose-gc` on the command line (npm run bench has none), the flag is set at
 * run time and a fresh context hands out the `gc` function it then defines.
 */
const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  })();

function collectGarbage(): void {
  gc();
}

/** Heap growth while `queued` tasks wait behind one that holds the only slot. */
async function measureQueued(name: string, queued: number): Promise<number> {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let submit: (task: () => Promise<void>) => Promise<void>;
  if (name === 'p-limit') {
    const limit = pLimit(1);
    submit = (task) => limit(task);
  } else {
    const limiter = new Limiter({ maxConcurrent: 1 });
    submit = (task) => limiter.run(task);
  }
  collectGarbage();
  await new Promise((resolve) => setTimeout(resolve, 10));
  const before = process.memoryUsage().heapUsed;
  const blocker = submit(() => gate);
  const pending = new Array<Promise<void>>(queued);
  for (let i = 0; i < queued; i++) pending[i] = submit(noop);
  // Let p-limit's microtask-deferred enqueues land before measuring.
  await new Promise((resolve) => setTimeout(resolve, 0));
  collectGarbage();
  const after = process.memoryUsage().heapUsed;
  open();
  await blocker;
  await Promise.all(pending);
  return after - before;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const fixed = (n: number, digits = 1) => n.toFixed(digits);

/** Runs the limiter section of the bench; prints a table unless `print: false`. */
export async function benchLimiter(options: LimiterBenchOptions = {}): Promise<LimiterBenchResult> {
  const tasks = options.tasks ?? 100_000;
  const concurrency = options.concurrency ?? 100;
  const rounds = options.rounds ?? 5;
  const queuedTasks = options.queuedTasks ?? 1_000_000;
  const print = options.print ?? true;
  const list = contenders(concurrency);

  // Warm-up: let the JIT see every contender's hot path before anything is timed.
  for (const c of list) for (let i = 0; i < 2; i++) await timeRound(c.make, Math.min(tasks, 20_000));

  // Interleave contenders round by round, so drift (thermal, GC) spreads over all of them.
  const times = new Map<string, number[]>(list.map((c) => [c.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const c of list) {
      collectGarbage();
      times.get(c.name)!.push(await timeRound(c.make, tasks));
    }
  }
  const pLimitTimes = times.get('p-limit')!;
  const pLimitBest = Math.min(...pLimitTimes);
  const throughput: ThroughputRow[] = list.map((c) => {
    const t = times.get(c.name)!;
    const best = Math.min(...t);
    const perRound = t.map((ms, r) => ms / pLimitTimes[r]!);
    return {
      name: c.name,
      bestMs: best,
      medianMs: median(t),
      worstMs: Math.max(...t),
      tasksPerSecond: (tasks / best) * 1000,
      vsPLimit: best / pLimitBest,
      vsPLimitPerRound: [Math.min(...perRound), Math.max(...perRound)],
    };
  });

  const memory: MemoryRow[] = [];
  for (const name of ['p-limit', 'Limiter']) {
    const bytes = await measureQueued(name, queuedTasks);
    memory.push({ name, heapDeltaMiB: bytes / 2 ** 20, bytesPerTask: bytes / queuedTasks, vsPLimit: 1 });
  }
  for (const row of memory) row.vsPLimit = row.heapDeltaMiB / memory[0]!.heapDeltaMiB;

  const targetRatio = 1.5;
  const meetsTarget = throughput
    .filter((r) => r.name.startsWith('Limiter'))
    .every((r) => r.vsPLimit <= targetRatio);
  const result: LimiterBenchResult = {
    tasks,
    concurrency,
    rounds,
    throughput,
    queuedTasks,
    memory,
    targetRatio,
    meetsTarget,
  };

  if (print) {
    console.log(
      `\nLimiter overhead: ${tasks.toLocaleString('en-US')} no-op tasks, concurrency ${concurrency}, best of ${rounds} rounds (node ${process.version})`,
    );
    console.table(
      throughput.map((r) => ({
        contender: r.name,
        'best ms': fixed(r.bestMs),
        'median ms': fixed(r.medianMs),
        'worst ms': fixed(r.worstMs),
        'tasks/s': Math.round(r.tasksPerSecond).toLocaleString('en-US'),
        '× p-limit (best)': fixed(r.vsPLimit, 2),
        '× p-limit per round': `${fixed(r.vsPLimitPerRound[0], 2)}–${fixed(r.vsPLimitPerRound[1], 2)}`,
      })),
    );
    console.log(`Heap for ${queuedTasks.toLocaleString('en-US')} queued tasks`);
    console.table(
      memory.map((r) => ({
        contender: r.name,
        'heap MiB': fixed(r.heapDeltaMiB),
        'bytes/task': Math.round(r.bytesPerTask),
        '× p-limit': fixed(r.vsPLimit, 2),
      })),
    );
    console.log(`Target ≤ ${targetRatio}× p-limit's time: ${meetsTarget ? 'met' : 'NOT met'}`);
  }
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchLimiter();
}
