/**
 * The generated API reference, as a reader meets it: the landing page names the modules by their
 * import paths and links the guides, and the root module reads by concept (categories).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(__dirname, '../..');
let out = '';

beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), 'throttleflow-api-'));
  execFileSync(process.execPath, [join(root, 'node_modules/typedoc/bin/typedoc'), '--out', out], {
    cwd: root,
    stdio: 'pipe',
  });
}, 180_000);

afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

describe('docs/api (npm run docs)', () => {
  it('names every module by its import path on the landing page and links getting started', () => {
    const index = readFileSync(join(out, 'index.html'), 'utf8');
    for (const name of [
      'throttleflow/redis',
      'throttleflow/testing',
      'throttleflow/cost',
      'throttleflow/routing',
    ]) {
      expect(index).toContain(name);
    }
    expect(index).not.toMatch(/stores\/redis|observability\/otel/);
    expect(index).toMatch(/href="[^"]*getting-started[^"]*"/);
  });

  it('groups the root module by concept, with nothing left uncategorised', () => {
    const page = readFileSync(join(out, 'modules', 'throttleflow.html'), 'utf8');
    for (const category of [
      'PocketFlow core',
      'Throttled nodes and flows',
      'Limiters',
      'Presets',
      'Calls',
      'Errors',
    ]) {
      expect(page).toContain(`data-key="section-${category}"`);
    }
    expect(page).not.toContain('data-key="section-Other"');
  });
});
