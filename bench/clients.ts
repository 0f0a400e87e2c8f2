/**
 * Clients: SDKs with their own retries. The official `openai` client at its default settings
 * (`maxRetries: 2`) on the goodput scenario that punishes retries most — OpenAI's limit, 100
 * requests per 10 s sliding window, counting refused requests (`countRejected`), 300 items, 500 ±
 * 300 ms latency — each with and without `throttledFetch`, side by side:
 *
 *   - limits known: a limiter with the provider's limit around each call (`limiter.run`), vs the
 *     same limiter as the client's `fetch: throttledFetch(limiter)`;
 *   - limits unknown: an `AdaptiveThrottledNode` whose `exec` calls the client, vs the same node on
 *     a limiter `L` with the client on `throttledFetch(L)`.
 *
 * Each strategy runs in its own client process against its own simulator process (as goodput
 * does), started staggered. A strategy still running after {@link LOCKOUT_MS} is locked out: its
 * unfinished calls are aborted and count as failed, so a retry storm cannot set the section's
 * length.
 *
 *   BENCH_SECTIONS=clients npx tsx bench/main.ts
 */
import { setMaxListeners } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import OpenAI from 'openai';
import { AdaptiveThrottledNode, Limiter, throttledFetch } from '../src/index';
import { spawnProviderSimulator, type ChatCompletionRequest } from '../src/testing/index';
import {
  LOCKOUT_MS,
  optimumMakespanMs,
  printRows,
  shortPrompts,
  staggerFor,
  type GoodputRow,
} from './goodput';
import { serveClientProcess, startClientProcess } from './client-process';
import type { BenchSection } from './sections';

const WINDOW_MS = 10_000;
const LIMIT = 100;
const ITEMS = 300;
const SIMULATOR = {
  requestsPerWindow: LIMIT,
  windowMs: WINDOW_MS,
  countRejected: true,
  latencyMs: 500,
  jitterMs: 300,
  seed: 42,
} as const;

/** What one strategy's calls ended as. */
type Outcome = { ok: true } | { ok: false; lockedOut: boolean };

interface Strategy {
  scenario: string;
  name: string;
  /** Whether this is the row with the integration. */
  integrated: boolean;
  run: (requests: ChatCompletionRequest[], url: string, lockout: AbortSignal) => Promise<Outcome[]>;
}

const outcomeOf = (lockout: AbortSignal) => ({
  ok: (): Outcome => ({ ok: true }),
  failed: (): Outcome => ({ ok: false, lockedOut: lockout.aborted }),
});

const knownLimits = () =>
  new Limiter({
    name: 'openai',
    maxConcurrent: 100,
    maxPerWindow: LIMIT,
    windowMs: WINDOW_MS,
    warnings: false,
  });

/** The client as a new user writes it: default settings. */
const client = (url: string, fetch?: ReturnType<typeof throttledFetch>) =>
  new OpenAI({ baseURL: `${url}/v1`, apiKey: 'simulator', ...(fetch ? { fetch } : {}) });

/** An adaptive node whose exec calls `openai`; `limiter` is the node's shared limiter when given. */
async function runAdaptive(
  requests: ChatCompletionRequest[],
  openai: OpenAI,
  lockout: AbortSignal,
  limiter: Limiter | undefined,
): Promise<Outcome[]> {
  const outcome = outcomeOf(lockout);
  class Call extends AdaptiveThrottledNode<{ out?: Outcome[] }, ChatCompletionRequest, Outcome> {
    override async prep() {
      return requests;
    }
    override async exec(request: ChatCompletionRequest): Promise<Outcome> {
      await openai.chat.completions.create(request, { signal: lockout });
      return outcome.ok();
    }
    override async execFallback(): Promise<Outcome> {
      return outcome.failed();
    }
    override async post(shared: { out?: Outcome[] }, _r: unknown, out: Outcome[]) {
      shared.out = out;
      return undefined;
    }
  }
  const node = new Call({
    ...(limiter ? { limiter } : {}),
    initialConcurrent: 10,
    maxConcurrent: 100,
    maxRetries: 3,
    maxRateLimitRetries: 50,
  });
  const shared: { out?: Outcome[] } = {};
  await node.run(shared);
  return shared.out!;
}

const KNOWN = 'limits known';
const UNKNOWN = 'limits unknown (adaptive)';

const STRATEGIES: Strategy[] = [
  {
    scenario: KNOWN,
    name: 'openai-node defaults, limiter.run around each call',
    integrated: false,
    async run(requests, url, lockout) {
      const limiter = knownLimits();
      const openai = client(url);
      const outcome = outcomeOf(lockout);
      return Promise.all(
        requests.map((r) =>
          limiter
            .run(() => openai.chat.completions.create(r, { signal: lockout }))
            .then(outcome.ok, outcome.failed),
        ),
      );
    },
  },
  {
    scenario: KNOWN,
    name: 'openai-node defaults + throttledFetch',
    integrated: true,
    async run(requests, url, lockout) {
      const openai = client(url, throttledFetch(knownLimits()));
      const outcome = outcomeOf(lockout);
      return Promise.all(
        requests.map((r) =>
          openai.chat.completions.create(r, { signal: lockout }).then(outcome.ok, outcome.failed),
        ),
      );
    },
  },
  {
    scenario: UNKNOWN,
    name: 'AdaptiveThrottledNode, openai-node defaults in exec',
    integrated: false,
    run: (requests, url, lockout) => runAdaptive(requests, client(url), lockout, undefined),
  },
  {
    scenario: UNKNOWN,
    name: 'AdaptiveThrottledNode on L, openai-node defaults on throttledFetch(L)',
    integrated: true,
    run(requests, url, lockout) {
      const limiter = new Limiter({ name: 'openai', maxConcurrent: 100, warnings: false });
      return runAdaptive(requests, client(url, throttledFetch(limiter)), lockout, limiter);
    },
  },
];

/** What a client process reports back. */
interface ClientReport {
  makespanMs: number;
  done: number;
  failedItems: number;
  lockedOutItems: number;
  cpuMs: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

async function runClient(index: number, url: string, go: Promise<void>, onReady: () => void) {
  const strategy = STRATEGIES[index]!;
  // A running service has its HTTP client loaded: one request before the clock starts.
  await fetch(`${url}/stats`).then((r) => r.arrayBuffer());
  onReady();
  await go;
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const lockout = AbortSignal.timeout(LOCKOUT_MS);
  // Every call of the strategy listens to the one lockout signal.
  setMaxListeners(Infinity, lockout);
  const outcomes = await strategy.run(shortPrompts(ITEMS), url, lockout);
  delay.disable();
  const cpu = process.cpuUsage(cpuBefore);
  return {
    makespanMs: performance.now() - started,
    done: outcomes.filter((o) => o.ok).length,
    failedItems: outcomes.filter((o) => !o.ok).length,
    lockedOutItems: outcomes.filter((o) => !o.ok && o.lockedOut).length,
    cpuMs: (cpu.user + cpu.system) / 1000,
    loopDelayP99Ms: delay.percentile(99) / 1e6,
    loopDelayMaxMs: delay.max / 1e6,
  } satisfies ClientReport;
}

/** A row of the section: goodput's columns, plus whether it is the integrated run. */
export interface ClientsRow extends GoodputRow {
  integrated: boolean;
}

/** Runs the four strategies side by side (staggered), each with its own simulator and client process. */
export async function benchClients(): Promise<ClientsRow[]> {
  const optimumMs = optimumMakespanMs(
    Array.from({ length: ITEMS }, () => 1),
    LIMIT,
    WINDOW_MS,
    SIMULATOR.latencyMs,
    SIMULATOR.jitterMs,
  );
  const simulators = await Promise.all(STRATEGIES.map(() => spawnProviderSimulator(SIMULATOR)));
  try {
    const clients = await Promise.all(
      STRATEGIES.map((_, k) =>
        startClientProcess<ClientReport>(
          import.meta.url,
          ['--clients-client', String(k), simulators[k]!.url],
          `clients bench client #${k}`,
        ),
      ),
    );
    const staggerMs = staggerFor(STRATEGIES.length);
    clients.forEach((c, k) => setTimeout(c.go, k * staggerMs));
    const reports = await Promise.all(clients.map((c) => c.report));
    const rows = await Promise.all(
      STRATEGIES.map(async (strategy, k): Promise<ClientsRow> => {
        const report = reports[k]!;
        const stats = await simulators[k]!.stats();
        const log = await simulators[k]!.log();
        return {
          scenario: strategy.scenario,
          strategy: strategy.name,
          integrated: strategy.integrated,
          items: ITEMS,
          done: report.done,
          lost: ITEMS - report.done - report.failedItems,
          rejected429: stats.rejected,
          failedItems: report.failedItems,
          lockedOutItems: report.lockedOutItems,
          clientCpuMs: report.cpuMs,
          loopDelayP99Ms: report.loopDelayP99Ms,
          loopDelayMaxMs: report.loopDelayMaxMs,
          makespanMs: report.makespanMs,
          optimumMs,
          efficiency: (report.done / ITEMS) * (optimumMs / report.makespanMs),
          maxInWindow: stats.maxRequestsInAnyWindow,
          limit: LIMIT,
          windowMs: WINDOW_MS,
          acceptedAtMs: log.acceptedAtMs,
          acceptedCosts: log.acceptedAtMs.map(() => 1),
          rejectedAtMs: log.rejectedAtMs,
        };
      }),
    );
    return rows;
  } finally {
    await Promise.all(simulators.map((s) => s.close()));
  }
}

/** The acceptance bars of the integrated rows (429s as a share of the items). */
const TARGETS: Record<string, { max429Share: number; minEfficiency: number }> = {
  [KNOWN]: { max429Share: 0.01, minEfficiency: 0.95 },
  [UNKNOWN]: { max429Share: 0.1, minEfficiency: 0.75 },
};

export const clientsSection: BenchSection = {
  name: 'clients',
  title: 'Clients (SDKs with their own retries)',
  async run() {
    console.log(
      `openai-node at default settings (maxRetries 2), provider in its own process: ${LIMIT} requests per ${WINDOW_MS / 1000} s, ` +
        `refused requests count, ${ITEMS} items, ${SIMULATOR.latencyMs} ± ${SIMULATOR.jitterMs} ms; locked out after ${LOCKOUT_MS / 1000} s`,
    );
    const rows = await benchClients();
    printRows(rows);
    const verdicts = rows
      .filter((r) => r.integrated)
      .map((r) => {
        const target = TARGETS[r.scenario]!;
        const share429 = r.rejected429 / r.items;
        return {
          scenario: r.scenario,
          strategy: r.strategy,
          share429,
          efficiency: r.efficiency,
          allItems: r.done === r.items,
          meets: share429 <= target.max429Share && r.efficiency >= target.minEfficiency && r.done === r.items,
          target,
        };
      });
    for (const v of verdicts) {
      console.log(
        `  ${v.meets ? 'meets' : 'MISSES'} its bar: ${v.scenario}, ${v.strategy}: ${(v.share429 * 100).toFixed(1)} % 429s ` +
          `(≤ ${v.target.max429Share * 100} %), efficiency ${v.efficiency.toFixed(3)} (≥ ${v.target.minEfficiency}), ` +
          `${v.allItems ? 'all items' : 'items missing'}`,
      );
    }
    // The per-request logs are long; results.json keeps the numbers.
    return {
      rows: rows.map(({ acceptedAtMs: _a, acceptedCosts: _c, rejectedAtMs: _r, ...row }) => row),
      verdicts,
    };
  },
};

if (process.argv[2] === '--clients-client') {
  const [, , , index, url] = process.argv;
  await serveClientProcess((go, onReady) => runClient(Number(index), url!, go, onReady));
}
