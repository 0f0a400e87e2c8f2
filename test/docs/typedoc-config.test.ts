/**
 * The API reference (typedoc.json) covers what the package publishes: one TypeDoc module per entry
 * point of package.json `exports`, named by its import path (the `@module` tag of its entry
 * file), and every guide as a page.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import tsupConfig from '../../tsup.config';

const root = resolve(__dirname, '../..');
const readJson = <T>(file: string) => JSON.parse(readFileSync(join(root, file), 'utf8')) as T;

const typedoc = readJson<{ entryPoints: string[]; projectDocuments?: string[]; readme?: string }>(
  'typedoc.json',
);
const pkg = readJson<{ name: string; exports: Record<string, { import: { default: string } } | string> }>(
  'package.json',
);
const tsupEntries = (Array.isArray(tsupConfig) ? tsupConfig[0] : tsupConfig) as {
  entry: Record<string, string>;
};

/** Import path → source entry file, from package.json exports and the tsup entries that build them. */
const entryFiles = Object.entries(pkg.exports)
  .filter((e): e is [string, { import: { default: string } }] => typeof e[1] === 'object')
  .map(([key, conditions]) => {
    const built = /^\.\/dist\/(.+)\.js$/.exec(conditions.import.default)?.[1];
    const source = built === undefined ? undefined : tsupEntries.entry[built];
    return { importPath: key === '.' ? pkg.name : `${pkg.name}/${key.slice(2)}`, source };
  });

describe('typedoc.json', () => {
  it('has one entry point per package.json export, each built by tsup from a source file', () => {
    for (const { importPath, source } of entryFiles)
      expect(source, `${importPath} has a tsup entry`).toBeDefined();
    expect([...typedoc.entryPoints].sort()).toEqual(entryFiles.map((e) => e.source).sort());
  });

  it("names each entry point's module by its import path (an @module tag in the file's first comment)", () => {
    for (const { importPath, source } of entryFiles) {
      const text = readFileSync(join(root, source!), 'utf8');
      const firstComment = /^\s*\/\*\*([\s\S]*?)\*\//.exec(text)?.[1] ?? '';
      expect(firstComment, `${source} starts with a /** … @module ${importPath} */ comment`).toMatch(
        new RegExp(`@module\\s+${importPath.replace(/[/]/g, '\\/')}\\s*$`, 'm'),
      );
    }
  });

  it('includes every guide as a page, and a landing page', () => {
    const guides = readdirSync(join(root, 'docs'))
      .filter((f) => f.endsWith('.md') && f !== 'README.md' && f !== 'api-landing.md')
      .map((f) => `docs/${f}`);
    expect([...(typedoc.projectDocuments ?? [])].sort()).toEqual(guides.sort());
    expect(typedoc.readme).toBe('docs/api-landing.md');
    const landing = readFileSync(join(root, 'docs/api-landing.md'), 'utf8');
    for (const guide of guides)
      expect(landing, `the landing page links ${guide}`).toContain(`](${guide.slice('docs/'.length)})`);
  });
});
