/**
 * Every ```ts block of the guides in docs/*.md type-checks against the source in src/, the way a
 * user's project sees the package: `throttleflow`, `throttleflow/testing`, `throttleflow/redis` and
 * `throttleflow/otel` are mapped to their entry points in src/. Each block is its own module.
 *
 * - ```ts nocheck: not checked (use sparingly, e.g. for a fragment that cannot stand alone).
 * - ```ts run: also run here, against the embedded provider simulator (keep such blocks short).
 *
 * Blocks may call `callLlm(prompt, signal?)`, a placeholder for "your LLM call" declared in the
 * prelude below; anything else a block uses it must import or declare itself.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it, vi } from 'vitest';

const root = resolve(__dirname, '../..');
const docsDir = join(root, 'docs');

/** Public entry points, as package.json exports them, mapped to the source. */
const ENTRY_POINTS: Record<string, string> = {
  throttleflow: join(root, 'src/index.ts'),
  'throttleflow/testing': join(root, 'src/testing/index.ts'),
  'throttleflow/redis': join(root, 'src/stores/redis/index.ts'),
  'throttleflow/otel': join(root, 'src/observability/otel.ts'),
};

/** Placeholders the guides may use without declaring them. */
const PRELUDE = `
/** Your LLM call (a placeholder in the guides). */
declare function callLlm(prompt: string, signal?: AbortSignal): Promise<string>;
`;

interface Snippet {
  /** e.g. docs/getting-started.md */
  file: string;
  /** 1-based number of the ```ts block within its file. */
  block: number;
  /** 1-based line of the block's first code line in the Markdown file. */
  line: number;
  code: string;
  run: boolean;
}

/** The ```ts / ```typescript blocks of one Markdown file (fences of ``` or ~~~, any length ≥ 3). */
function extractSnippets(markdown: string, file: string): Snippet[] {
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
    while (j < lines.length && !new RegExp(`^ {0,3}${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`).test(lines[j]!)) body.push(lines[j++]!);
    if (lang === 'ts' || lang === 'typescript') {
      block++;
      if (!flags.includes('nocheck')) {
        snippets.push({ file, block, line: i + 2, code: body.join('\n'), run: flags.includes('run') });
      }
    }
    i = j;
  }
  return snippets;
}

const guideFiles = readdirSync(docsDir)
  .filter((f) => f.endsWith('.md'))
  .sort();
const snippets = guideFiles.flatMap((f) => extractSnippets(readFileSync(join(docsDir, f), 'utf8'), `docs/${f}`));

/** Where a snippet lives for the compiler (never written to disk; next to docs/ so node_modules resolve). */
const virtualPath = (s: Snippet) => join(docsDir, '__snippets__', `${basename(s.file, '.md')}.block${s.block}.ts`);

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
  const preludePath = join(docsDir, '__snippets__', 'prelude.d.ts');
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

  const program = ts.createProgram({ rootNames: [preludePath, ...virtual.keys()], options: compilerOptions, host });
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
      messages.push(`${snippet.file}:${snippet.line + line}:${character + 1} (ts block ${snippet.block}): TS${d.code} ${text}`);
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
  return code.replace(/(from\s+|import\s*\(\s*)(['"])(throttleflow(?:\/[a-z]+)?)\2/g, (match, lead: string, quote: string, name: string) => {
    const target = ENTRY_POINTS[name];
    return target ? `${lead}${quote}${pathToFileURL(target).href}${quote}` : match;
  });
}

describe('docs/*.md TypeScript snippets', () => {
  it('finds the guides and their snippets', () => {
    expect(guideFiles.length).toBeGreaterThan(0);
    expect(snippets.length).toBeGreaterThan(0);
  });

  it('every ```ts block type-checks against src/ (file:line (block): diagnostic)', () => {
    const problems = typeCheck(snippets);
    expect(problems, problems.join('\n')).toEqual([]);
  }, 60_000);

  const runnable = snippets.filter((s) => s.run);
  it.each(runnable.map((s) => [`${s.file} block ${s.block}`, s] as const))('runs %s', async (_name, snippet) => {
    runDir ??= mkdtempSync(join(tmpdir(), 'throttleflow-docs-'));
    const file = join(runDir, `${basename(snippet.file, '.md')}.block${snippet.block}.ts`);
    writeFileSync(file, `${RUN_PRELUDE}\n${runnableSource(snippet.code)}\nexport {};\n`);
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await import(pathToFileURL(file).href);
    } finally {
      log.mockRestore();
    }
  }, 30_000);
});
