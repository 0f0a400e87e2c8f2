/**
 * Packs the package as npm would publish it, installs the tarball into a fresh project, and uses it
 * the way users do: an ESM script, a CommonJS script, and `tsc --noEmit` against its types.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(__dirname, '../..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let project = '';
let tarballFiles: string[] = [];

const run = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_loglevel: 'error' } });

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), 'throttleflow-pack-'));
  run(npm, ['run', 'build'], root);
  const packed = JSON.parse(run(npm, ['pack', '--json', '--pack-destination', project], root)) as { filename: string; files: { path: string }[] }[];
  tarballFiles = packed[0]!.files.map((f) => f.path);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, version: '0.0.0' }));
  run(npm, ['install', '--no-audit', '--no-fund', join(project, packed[0]!.filename), `typescript@${require('typescript/package.json').version}`], project);
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
    expect(tarballFiles.filter((f) => !/^(dist\/|package\.json$|README\.md$|CHANGELOG\.md$|LICENSE)/.test(f))).toEqual([]);
    expect(tarballFiles.some((f) => f.startsWith('src/') || f.startsWith('test/'))).toBe(false);
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
    expect(JSON.parse(run(process.execPath, ['esm.mjs'], project))).toEqual({ out: 'hi', action: 'done', requests: 1 });
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

  it('type-checks against its declarations (ESM and CJS resolution)', () => {
    writeFileSync(
      join(project, 'use.ts'),
      `import { Node, ThrottledParallelBatchNode, Limiter, type LimiterStats } from 'throttleflow';
import { FakeClock } from 'throttleflow/testing';
interface Shared { texts: string[]; out?: string[] }
class Upper extends ThrottledParallelBatchNode<Shared, string, string> {
  override async prep(shared: Shared) { return shared.texts; }
  override async exec(text: string) { return text.toUpperCase(); }
}
const stats: LimiterStats = new Limiter({ maxPerMinute: 10, clock: new FakeClock() }).stats();
const n: number = stats.requestsInWindow;
void new Upper({ maxConcurrent: 2 }); void new Node(2, 1); void n;
// @ts-expect-error maxConcurrent is a number
new Limiter({ maxConcurrent: 'ten' });
`,
    );
    for (const moduleResolution of ['nodenext', 'bundler']) {
      const module = moduleResolution === 'bundler' ? 'esnext' : 'nodenext';
      try {
        run(process.execPath, [join(project, 'node_modules/typescript/bin/tsc'), '--noEmit', '--strict', '--target', 'es2022', '--lib', 'es2023,esnext.disposable,dom', '--module', module, '--moduleResolution', moduleResolution, 'use.ts'], project);
      } catch (error) {
        throw new Error(`tsc (${moduleResolution}) failed:\n${(error as { stdout?: string }).stdout ?? String(error)}`);
      }
    }
    expect(readdirSync(project)).toContain('use.ts');
  });
});
