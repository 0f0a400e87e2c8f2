/**
 * The rules of ARCHITECTURE.md, checked on the source: which folder may import which, no import
 * cycle between folders, no file over the size limit, `node:` modules only in adapters.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '../..');
const srcDir = join(root, 'src');

/**
 * Each unit of the source (a folder, or an adapter inside one) and its layer. A unit may import
 * units of lower layers only; the foundation (layer 0) may also import itself, as long as no cycle
 * forms. Keep in step with the table in ARCHITECTURE.md.
 */
const LAYER: Record<string, number> = {
  util: 0,
  errors: 0,
  validation: 0,
  core: 1,
  providers: 1,
  cost: 1,
  presets: 1,
  stores: 1,
  limits: 2,
  registry: 3,
  observability: 3,
  resilience: 4,
  calls: 5,
  routing: 6,
  throttled: 6,
  fetch: 6,
  // Adapters: published at their own subpaths, free to use anything below them.
  testing: 7,
  'stores/redis': 7,
  'observability/otel': 7,
  // An adapter over the Redis adapter: BullMQ jobs whose errors are the Redis store's.
  bullmq: 8,
  'ai-sdk': 7,
  // The root entry re-exports.
  index: 9,
};

/** Units allowed to import `node:` built-ins (the core stays runtime-agnostic). */
const NODE_BUILTINS_ALLOWED = new Set(['testing', 'stores/redis']);

const MAX_LINES = 450;
const GENERATED = /\.generated\.ts$/;

/** Lines as `wc -l` counts them (a final newline ends the last line, it does not start another). */
function lineCount(text: string): number {
  return text.length === 0 ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The unit a file of src/ belongs to. */
function unitOf(file: string): string {
  const rel = relative(srcDir, file).replace(/\\/g, '/').replace(/\.ts$/, '');
  if (rel === 'index') return 'index';
  if (rel.startsWith('stores/redis/')) return 'stores/redis';
  if (rel === 'observability/otel') return 'observability/otel';
  return rel.split('/')[0]!;
}

/** Relative specifiers a file imports or re-exports (static, dynamic and type-only alike). */
function importsOf(source: string): string[] {
  const specifiers: string[] = [];
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.[^'"]+)\1/g;
  for (const match of source.matchAll(pattern)) specifiers.push(match[2]!);
  return specifiers;
}

interface Edge {
  from: string;
  to: string;
  file: string;
  specifier: string;
}

const files = sourceFiles(srcDir);
const edges: Edge[] = files.flatMap((file) => {
  const from = unitOf(file);
  return importsOf(readFileSync(file, 'utf8')).flatMap((specifier) => {
    const target = resolve(dirname(file), specifier);
    const to = unitOf(target.endsWith('.lua') ? target : `${target}.ts`);
    return to === from ? [] : [{ from, to, file: relative(root, file), specifier }];
  });
});

/** Strongly connected components with more than one unit (Tarjan). */
function cyclesOf(graph: Map<string, Set<string>>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter);
    counter++;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) components.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return components;
}

describe('architecture rules (ARCHITECTURE.md)', () => {
  it('every unit of src/ has a layer', () => {
    const units = new Set(files.map(unitOf));
    expect([...units].filter((unit) => LAYER[unit] === undefined)).toEqual([]);
  });

  it('imports go down the layers only', () => {
    const upward = edges
      .filter((e) => {
        const from = LAYER[e.from]!;
        const to = LAYER[e.to]!;
        return from === 0 && to === 0 ? false : to >= from;
      })
      .map(
        (e) =>
          `${e.file}: '${e.specifier}' (${e.from}, layer ${LAYER[e.from]} → ${e.to}, layer ${LAYER[e.to]})`,
      );
    expect(upward).toEqual([]);
  });

  it('no import cycle between folders', () => {
    const graph = new Map<string, Set<string>>();
    for (const e of edges) {
      const from = e.from.split('/')[0]!;
      const to = e.to.split('/')[0]!;
      // An adapter inside a folder (stores/redis) may use its folder; that is not a cycle of concepts.
      if (from === to) continue;
      if (!graph.has(from)) graph.set(from, new Set());
      graph.get(from)!.add(to);
    }
    expect(cyclesOf(graph)).toEqual([]);
  });

  it('the cycle check finds a cycle when there is one', () => {
    const graph = new Map([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a'])],
      ['d', new Set(['a'])],
    ]);
    expect(cyclesOf(graph)).toEqual([['a', 'b', 'c']]);
  });

  it(`no source file over ${MAX_LINES} lines (generated files aside)`, () => {
    const long = files
      .filter((file) => !GENERATED.test(file))
      .map((file) => ({ file: relative(root, file), lines: lineCount(readFileSync(file, 'utf8')) }))
      .filter(({ lines }) => lines > MAX_LINES)
      .map(({ file, lines }) => `${file}: ${lines} lines`);
    expect(long).toEqual([]);
  });

  it('node: built-ins only in adapters (the core is runtime-agnostic)', () => {
    const offenders = files
      .filter((file) => !NODE_BUILTINS_ALLOWED.has(unitOf(file)))
      .filter((file) =>
        /(?:from\s*|import\s*\(\s*|require\s*\(\s*)['"]node:/.test(readFileSync(file, 'utf8')),
      )
      .map((file) => relative(root, file));
    expect(offenders).toEqual([]);
  });
});
