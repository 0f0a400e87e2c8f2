/**
 * Every ```ts block of the Markdown a user reads — the guides (docs/*.md), README.md and the
 * cookbook's READMEs (cookbook/README.md, cookbook/<example>/README.md) — type-checks against the
 * source in src/, the way a user's project sees the package: every entry point of package.json
 * `exports` (`throttleflow`, `throttleflow/providers`, …, `throttleflow/otel`) is mapped to its
 * entry file in src/. Each block is its own module, placed (virtually) next to its Markdown file,
 * so a cookbook README's block may import the example's shared pieces (`../shared/llm`) as its
 * main.ts does.
 *
 * - ```ts nocheck <reason>: not checked. Use sparingly (e.g. for a fragment that cannot stand
 *   alone), and say why on the fence line: a bare `nocheck` fails the test.
 * - ```ts run: also run here, against the embedded provider simulator (keep such blocks short).
 *
 * Blocks may call `callLlm(prompt, signal?)`, a placeholder for "your LLM call" declared in the
 * prelude below; anything else a block uses it must import or declare itself.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it, vi } from 'vitest';

const root = resolve(__dirname, '../..');
const docsDir = join(root, 'docs');
const cookbookDir = join(root, 'cookbook');

/** Public entry points, as package.json exports them, mapped to the source. */
const ENTRY_POINTS: Record<string, string> = {
  throttleflow: join(root, 'src/index.ts'),
  'throttleflow/providers': join(root, 'src/providers/index.ts'),
  'throttleflow/cost': join(root, 'src/cost/index.ts'),
  'throttleflow/resilience': join(root, 'src/resilience/index.ts'),
  'throttleflow/routing': join(root, 'src/routing/index.ts'),
  'throttleflow/observability': join(root, 'src/observability/index.ts'),
  'throttleflow/stores': join(root, 'src/stores/index.ts'),
  'throttleflow/testing': join(root, 'src/testing/index.ts'),
  'throttleflow/redis': join(root, 'src/stores/redis/index.ts'),
  'throttleflow/otel': join(root, 'src/observability/otel.ts'),
  'throttleflow/bullmq': join(root, 'src/bullmq/index.ts'),
  'throttleflow/ai-sdk': join(root, 'src/ai-sdk/index.ts'),
};

/** Placeholders the guides may use without declaring them. */
const PRELUDE = `
/** Your LLM call (a placeholder in the guides). */
declare function callLlm(prompt: string, signal?: AbortSignal): Promise<string>;
`;

interface Snippet {
  /** e.g. docs/getting-started.md (relative to the repository root, `/`-separated). */
  file: string;
  /** 1-based number of the ```ts block within its file. */
  block: number;
  /** 1-based line of the block's first code line in the Markdown file. */
  line: number;
  code: string;
  run: boolean;
}

/** A ```ts block marked `nocheck`, with the reason its fence line gives (empty when it gives none). */
interface Unchecked {
  file: string;
  block: number;
  line: number;
  reason: string;
}

/** The ```ts / ```typescript blocks of one Markdown file (fences of ``` or ~~~, any length ≥ 3). */
function extractSnippets(markdown: string, file: string, unchecked: Unchecked[] = []): Snippet[] {
  const snippets: Snippet[] = [];
  const lines = markdown.split('\n');
  let block = 0;
  for (let i = 0; i < lines.length; i++) {
    const open = /^( {0,3})(`{3,}|~{3,})\s*([^\s`]*)\s*(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const fence = open[2]!;
    const lang = open[3]!.toLowerCase();
    const flags = open[4]!.split(/\s+/).filter(Boolean);
    const body: string[] = [];
    let j = i + 1;
    while (
      j < lines.length &&
      !new RegExp(`^ {0,3}${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`).test(lines[j]!)
    )
      body.push(lines[j++]!);
    if (lang === 'ts' || lang === 'typescript') {
      block++;
      if (flags.includes('nocheck')) {
        const reason = flags
          .filter((f) => f !== 'nocheck')
          .join(' ')
          .replace(/^[-—:–\s]+/, '');
        unchecked.push({ file, block, line: i + 1, reason });
      } else {
        snippets.push({ file, block, line: i + 2, code: body.join('\n'), run: flags.includes('run') });
      }
    }
    i = j;
  }
  return snippets;
}

/** The guides. */
const guideFiles = readdirSync(docsDir)
  .filter((f) => f.endsWith('.md'))
  .sort()
  .map((f) => join(docsDir, f));
/** The cookbook's overview and each example's README. */
const cookbookFiles = [
  join(cookbookDir, 'README.md'),
  ...readdirSync(cookbookDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => join(cookbookDir, d.name, 'README.md'))
    .filter((f) => existsSync(f))
    .sort(),
];
/** Every Markdown file whose ```ts blocks are checked, relative to the repository root. */
const markdownFiles = [join(root, 'README.md'), ...guideFiles, ...cookbookFiles].map((f) =>
  relative(root, f).split('\\').join('/'),
);
const unchecked: Unchecked[] = [];
const snippets = markdownFiles.flatMap((f) =>
  extractSnippets(readFileSync(join(root, f), 'utf8'), f, unchecked),
);

/**
 * Where a snippet lives for the compiler: next to its Markdown file (never written to disk), so
 * node_modules and the cookbook's relative imports resolve as they would for a file there.
 */
const virtualPath = (s: Snippet) =>
  join(root, dirname(s.file), `${basename(s.file, '.md')}.snippet-block${s.block}.ts`);

const compilerOptions: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  lib: ['lib.es2023.d.ts', 'lib.esnext.disposable.d.ts'],
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  strict: true,
  noUncheckedIndexedAccess: true,
  esModuleInterop: true,
  skipLibCheck: true,
  isolatedModules: true,
  verbatimModuleSyntax: true,
  resolveJsonModule: true,
  types: ['node'],
  typeRoots: [join(root, 'node_modules/@types')],
  noEmit: true,
  paths: Object.fromEntries(Object.entries(ENTRY_POINTS).map(([name, path]) => [name, [path]])),
};

/** Type-checks every snippet in one program; returns one message per diagnostic, naming file, block and line. */
function typeCheck(all: Snippet[]): string[] {
  const virtual = new Map<string, { snippet?: Snippet; text: string }>();
  for (const s of all) virtual.set(virtualPath(s), { snippet: s, text: `${s.code}\nexport {};\n` });
  const preludePath = join(docsDir, '__snippets__prelude.d.ts');
  virtual.set(preludePath, { text: PRELUDE });

  const host = ts.createCompilerHost(compilerOptions, true);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    const v = virtual.get(resolve(fileName));
    if (v) return ts.createSourceFile(fileName, v.text, languageVersion, true);
    return getSourceFile(fileName, languageVersion, onError, shouldCreate);
  };
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (fileName) => virtual.has(resolve(fileName)) || fileExists(fileName);
  const readFile = host.readFile.bind(host);
  host.readFile = (fileName) => virtual.get(resolve(fileName))?.text ?? readFile(fileName);

  const program = ts.createProgram({
    rootNames: [preludePath, ...virtual.keys()],
    options: compilerOptions,
    host,
  });
  const messages: string[] = [];
  // Only the snippets are checked (src/ is the project's own typecheck): much faster than checking every file.
  const diagnostics = [
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...all.flatMap((s) => {
      const file = program.getSourceFile(virtualPath(s));
      if (!file) return [];
      return [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)];
    }),
  ];
  for (const d of diagnostics) {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    const snippet = d.file ? virtual.get(resolve(d.file.fileName))?.snippet : undefined;
    if (d.file && snippet && d.start !== undefined) {
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
      messages.push(
        `${snippet.file}:${snippet.line + line}:${character + 1} (ts block ${snippet.block}): TS${d.code} ${text}`,
      );
    } else {
      const where = d.file ? `${d.file.fileName}: ` : '';
      messages.push(`${where}TS${d.code} ${text}`);
    }
  }
  return messages;
}

/** What the prelude declares, defined, for blocks that run. */
const RUN_PRELUDE = `async function callLlm(prompt: string, _signal?: AbortSignal): Promise<string> { return \`ok: \${prompt}\`; }`;

let runDir: string | undefined;
afterAll(() => {
  if (runDir) rmSync(runDir, { recursive: true, force: true });
});

/** A snippet with its package imports pointed at the source, ready to import from a temp file. */
function runnableSource(code: string): string {
  return code.replace(
    /(from\s+|import\s*\(\s*)(['"])(throttleflow(?:\/[a-z]+)?)\2/g,
    (match, lead: string, quote: string, name: string) => {
      const target = ENTRY_POINTS[name];
      return target ? `${lead}${quote}${pathToFileURL(target).href}${quote}` : match;
    },
  );
}

describe('TypeScript snippets of the guides, README.md and the cookbook READMEs', () => {
  it('finds the guides, the READMEs and their snippets', () => {
    expect(guideFiles.length).toBeGreaterThan(0);
    expect(cookbookFiles.length).toBeGreaterThan(1);
    expect(markdownFiles).toContain('README.md');
    expect(markdownFiles).toContain('cookbook/provider-outage/README.md');
    for (const file of [
      'README.md',
      'docs/getting-started.md',
      'docs/resilience.md',
      'cookbook/provider-outage/README.md',
    ]) {
      expect(
        snippets.some((s) => s.file === file),
        `${file} has checked blocks`,
      ).toBe(true);
    }
  });

  it('says why each unchecked (nocheck) block is not checked', () => {
    const bare = unchecked
      .filter((u) => u.reason.length === 0)
      .map((u) => `${u.file}:${u.line} (ts block ${u.block})`);
    expect(bare, `give a reason after nocheck on the fence line:\n${bare.join('\n')}`).toEqual([]);
  });

  it('maps every subpath of package.json exports to a source entry point', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      exports: Record<string, unknown>;
    };
    const subpaths = Object.keys(pkg.exports)
      .filter((k) => k !== './package.json')
      .map((k) => (k === '.' ? 'throttleflow' : `throttleflow/${k.slice(2)}`))
      .sort();
    expect(Object.keys(ENTRY_POINTS).sort()).toEqual(subpaths);
    for (const path of Object.values(ENTRY_POINTS)) expect(existsSync(path), path).toBe(true);
  });

  it('every ```ts block type-checks against src/ (file:line (block): diagnostic)', () => {
    const problems = typeCheck(snippets);
    expect(problems, problems.join('\n')).toEqual([]);
  }, 60_000);

  const runnable = snippets.filter((s) => s.run);
  it.each(runnable.map((s) => [`${s.file} block ${s.block}`, s] as const))(
    'runs %s',
    async (_name, snippet) => {
      runDir ??= mkdtempSync(join(tmpdir(), 'throttleflow-docs-'));
      const file = join(
        runDir,
        `${snippet.file.replace(/\.md$/, '').replace(/\//g, '__')}.block${snippet.block}.ts`,
      );
      writeFileSync(file, `${RUN_PRELUDE}\n${runnableSource(snippet.code)}\nexport {};\n`);
      const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
      try {
        await import(pathToFileURL(file).href);
      } finally {
        log.mockRestore();
      }
    },
    30_000,
  );
});
