/**
 * Packs the package as npm would publish it, installs the tarball into a fresh project, and uses it
 * the way users do: every entry point of package.json `exports` from an ESM script and a CommonJS
 * script, and `tsc --noEmit` against its types with node16, nodenext and bundler resolution.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(__dirname, '../..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let project = '';
let tarballFiles: string[] = [];

/** Every entry point users import, with one value it must export. */
const ENTRY_POINTS: Record<string, string> = {
  throttleflow: 'Limiter',
  'throttleflow/providers': 'detectRateLimit',
  'throttleflow/cost': 'estimateTokens',
  'throttleflow/resilience': 'CircuitBreaker',
  'throttleflow/routing': 'withFallback',
  'throttleflow/observability': 'LatencyHistogram',
  'throttleflow/stores': 'MemoryStore',
  'throttleflow/testing': 'FakeClock',
  'throttleflow/redis': 'RedisStore',
  'throttleflow/otel': 'instrument',
  'throttleflow/bullmq': 'QueueBatchFlow',
  'throttleflow/ai-sdk': 'throttleMiddleware',
};

/** The root keeps to what a pipeline is built from; building blocks live at subpaths. */
const MAX_ROOT_VALUES = 50;

interface ExportConditions {
  import: { types: string; default: string };
  require: { types: string; default: string };
}
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, ExportConditions | string>;
};
const subpathExports = Object.entries(pkg.exports).filter(
  (e): e is [string, ExportConditions] => typeof e[1] === 'object',
);

/** The version of a package in the repository's own node_modules (installing it again hits the npm cache). */
const installedVersion = (name: string) =>
  (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string })
    .version;

const run = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, npm_config_loglevel: 'error' },
  });

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), 'throttleflow-pack-'));
  run(npm, ['run', 'build'], root);
  const packed = JSON.parse(run(npm, ['pack', '--json', '--pack-destination', project], root)) as {
    filename: string;
    files: { path: string }[];
  }[];
  tarballFiles = packed[0]!.files.map((f) => f.path);
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, version: '0.0.0' }),
  );
  // The optional peers of throttleflow/redis, /otel and /bullmq, as a user of those subpaths installs them.
  const peers = ['typescript', 'ioredis', '@opentelemetry/api', 'bullmq', '@types/node'].map(
    (name) => `${name}@${installedVersion(name)}`,
  );
  run(npm, ['install', '--no-audit', '--no-fund', join(project, packed[0]!.filename), ...peers], project);
}, 240_000);

afterAll(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

describe('the published package', () => {
  it('holds only what users need', () => {
    expect(tarballFiles).toContain('package.json');
    expect(tarballFiles).toContain('README.md');
    expect(tarballFiles).toContain('dist/index.js');
    expect(tarballFiles).toContain('dist/index.cjs');
    expect(tarballFiles).toContain('dist/index.d.ts');
    expect(
      tarballFiles.filter((f) => !/^(dist\/|package\.json$|README\.md$|CHANGELOG\.md$|LICENSE)/.test(f)),
    ).toEqual([]);
    expect(tarballFiles.some((f) => f.startsWith('src/') || f.startsWith('test/'))).toBe(false);
  });

  it("lists every entry point of package.json exports here, and ships each one's files", () => {
    const names = subpathExports.map(([key]) =>
      key === '.' ? 'throttleflow' : `throttleflow/${key.slice(2)}`,
    );
    expect(names.sort()).toEqual(Object.keys(ENTRY_POINTS).sort());
    for (const [key, conditions] of subpathExports) {
      for (const file of [
        conditions.import.types,
        conditions.import.default,
        conditions.require.types,
        conditions.require.default,
      ]) {
        expect(tarballFiles, `${key}: ${file}`).toContain(file.replace(/^\.\//, ''));
      }
    }
  });

  it('loads every entry point from ESM: a known export each, one class across subpaths, a small root', () => {
    writeFileSync(
      join(project, 'subpaths.mjs'),
      `const entryPoints = ${JSON.stringify(ENTRY_POINTS)};
const loaded = {};
for (const [specifier, name] of Object.entries(entryPoints)) loaded[specifier] = typeof (await import(specifier))[name];
const root = await import('throttleflow');
const { CircuitBreaker } = await import('throttleflow/resilience');
const { withFallback } = await import('throttleflow/routing');
// The chain checks its target's limiter and breaker with instanceof: this holds only if every
// subpath shares one copy of each class.
const chain = withFallback([{ name: 'a', limiter: new root.Limiter({ maxConcurrent: 1 }), circuitBreaker: new CircuitBreaker({ name: 'a' }), call: async (n) => n * 2 }]);
console.log(JSON.stringify({ loaded, rootValues: Object.keys(await import('throttleflow')).length, served: await chain.call(21) }));
`,
    );
    const out = JSON.parse(run(process.execPath, ['subpaths.mjs'], project)) as {
      loaded: Record<string, string>;
      rootValues: number;
      served: number;
    };
    expect(Object.keys(out.loaded).sort()).toEqual(Object.keys(ENTRY_POINTS).sort());
    for (const [specifier, type] of Object.entries(out.loaded))
      expect(type, `${specifier} exports ${ENTRY_POINTS[specifier]}`).toBe('function');
    expect(out.rootValues).toBeLessThanOrEqual(MAX_ROOT_VALUES);
    expect(out.served).toBe(42);
  });

  it('loads every entry point from CommonJS: a known export each, one class across subpaths, a small root', () => {
    writeFileSync(
      join(project, 'subpaths.cjs'),
      `const entryPoints = ${JSON.stringify(ENTRY_POINTS)};
const loaded = {};
for (const [specifier, name] of Object.entries(entryPoints)) loaded[specifier] = typeof require(specifier)[name];
const root = require('throttleflow');
const { CircuitBreaker } = require('throttleflow/resilience');
const { withFallback } = require('throttleflow/routing');
const chain = withFallback([{ name: 'a', limiter: new root.Limiter({ maxConcurrent: 1 }), circuitBreaker: new CircuitBreaker({ name: 'a' }), call: async (n) => n * 2 }]);
chain.call(21).then((served) => console.log(JSON.stringify({ loaded, rootValues: Object.keys(root).length, served })));
`,
    );
    const out = JSON.parse(run(process.execPath, ['subpaths.cjs'], project)) as {
      loaded: Record<string, string>;
      rootValues: number;
      served: number;
    };
    expect(Object.keys(out.loaded).sort()).toEqual(Object.keys(ENTRY_POINTS).sort());
    for (const [specifier, type] of Object.entries(out.loaded))
      expect(type, `${specifier} exports ${ENTRY_POINTS[specifier]}`).toBe('function');
    expect(out.rootValues).toBeLessThanOrEqual(MAX_ROOT_VALUES);
    expect(out.served).toBe(42);
  });

  it('works from an ESM script', () => {
    writeFileSync(
      join(project, 'esm.mjs'),
      `import { Flow, Node, Limiter, Presets } from 'throttleflow';
import { FakeClock } from 'throttleflow/testing';
class Hello extends Node { async exec() { return 'hi'; } async post(s, _p, r) { s.out = r; return 'done'; } }
const shared = {};
const action = await new Flow(new Hello()).run(shared);
const limiter = new Limiter({ ...Presets.OPENAI_TIER1, clock: new FakeClock() });
const lease = await limiter.acquire();
lease.release();
console.log(JSON.stringify({ out: shared.out, action, requests: limiter.stats().totalRequests }));
`,
    );
    expect(JSON.parse(run(process.execPath, ['esm.mjs'], project))).toEqual({
      out: 'hi',
      action: 'done',
      requests: 1,
    });
  });

  it('works from a CommonJS script', () => {
    writeFileSync(
      join(project, 'cjs.cjs'),
      `const { ThrottledParallelBatchNode, isRateLimitHit, RateLimitHit } = require('throttleflow');
class Double extends ThrottledParallelBatchNode { async prep() { return [1, 2, 3]; } async exec(i) { return i * 2; } async post(s, _i, r) { s.out = r; } }
const shared = {};
new Double({ maxConcurrent: 2 }).run(shared).then(() => {
  console.log(JSON.stringify({ out: shared.out, hit: isRateLimitHit(new RateLimitHit('x', 10, 'api')) }));
});
`,
    );
    expect(JSON.parse(run(process.execPath, ['cjs.cjs'], project))).toEqual({ out: [2, 4, 6], hit: true });
  });

  it('type-checks an import from every entry point (node16, nodenext and bundler resolution; CJS and ESM files)', () => {
    const source = `import { Node, ThrottledParallelBatchNode, Limiter, type LimiterStats } from 'throttleflow';
import { detectRateLimit, type RateLimitSignal } from 'throttleflow/providers';
import { estimateTokens, type Tokenizer } from 'throttleflow/cost';
import { CircuitBreaker, type CircuitState } from 'throttleflow/resilience';
import { withFallback, type FallbackTarget } from 'throttleflow/routing';
import { LatencyHistogram, type LatencySnapshot } from 'throttleflow/observability';
import { MemoryStore, type Store } from 'throttleflow/stores';
import { FakeClock } from 'throttleflow/testing';
import { RedisStore, type RedisStoreOptions } from 'throttleflow/redis';
import { instrument, type InstrumentOptions } from 'throttleflow/otel';
import { FlowWorker, QueueBatchFlow, type QueueBatchFlowOptions } from 'throttleflow/bullmq';
import { throttleMiddleware, type ThrottleMiddleware } from 'throttleflow/ai-sdk';

interface Shared { texts: string[]; out?: string[] }
class Upper extends ThrottledParallelBatchNode<Shared, string, string> {
  override async prep(shared: Shared) { return shared.texts; }
  override async exec(text: string) { return text.toUpperCase(); }
}
const store: Store = new MemoryStore();
const stats: LimiterStats = new Limiter({ maxPerMinute: 10, clock: new FakeClock(), store }).stats();
const n: number = stats.requestsInWindow;
const signal: RateLimitSignal | undefined = detectRateLimit(new Error('nope'));
const tokens: number = estimateTokens('Hello, world!');
const tokenizer: Tokenizer = { count: (text: string) => text.length };
const state: CircuitState = new CircuitBreaker({ name: 'primary' }).state;
const target: FallbackTarget<string, string> = { name: 'primary', limiter: 'openai', call: async (text) => text };
const chain = withFallback([target]);
const snapshot: LatencySnapshot = new LatencyHistogram().snapshot();
const redisOptions: RedisStoreOptions | undefined = undefined;
const otelOptions: InstrumentOptions = { tracer: null, meter: null };
const queueOptions: QueueBatchFlowOptions = { queue: 'q', connection: { host: '127.0.0.1' }, runId: 'r' };
const middleware: ThrottleMiddleware = throttleMiddleware({ limiter: 'openai' });
void new Upper({ maxConcurrent: 2 }); void new Node(2, 1);
void [n, signal, tokens, tokenizer, state, chain, snapshot, redisOptions, otelOptions, RedisStore, instrument, queueOptions, FlowWorker, QueueBatchFlow, middleware];
// @ts-expect-error maxConcurrent is a number
new Limiter({ maxConcurrent: 'ten' });
`;
    // No "type" in the consumer's package.json: use.cts/use.ts are CommonJS under node16/nodenext
    // (the "require" conditions, .d.cts), use.mts is ESM (the "import" conditions, .d.ts).
    writeFileSync(join(project, 'use.ts'), source);
    writeFileSync(join(project, 'use.mts'), source);
    const tsc = join(project, 'node_modules/typescript/bin/tsc');
    const common = [
      '--noEmit',
      '--strict',
      '--target',
      'es2022',
      '--lib',
      'es2023,esnext.disposable,dom',
      '--types',
      'node',
    ];
    for (const moduleResolution of ['node16', 'nodenext', 'bundler']) {
      const module = moduleResolution === 'bundler' ? 'esnext' : moduleResolution;
      const files = moduleResolution === 'bundler' ? ['use.ts'] : ['use.ts', 'use.mts'];
      try {
        run(
          process.execPath,
          [tsc, ...common, '--module', module, '--moduleResolution', moduleResolution, ...files],
          project,
        );
      } catch (error) {
        throw new Error(
          `tsc (${moduleResolution}) failed:\n${(error as { stdout?: string }).stdout ?? String(error)}`,
        );
      }
    }
    expect(readdirSync(project)).toContain('use.mts');
  }, 240_000);
});
