import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GENERATED_FILE, renderGeneratedModule } from '../../../src/stores/redis/generate-scripts';
import { luaScripts } from '../../../src/stores/redis/scripts.generated';

describe('scripts.generated.ts', () => {
  it('is up to date with src/stores/redis/scripts/*.lua (else run: npx tsx src/stores/redis/generate-scripts.ts)', () => {
    expect(readFileSync(GENERATED_FILE, 'utf8')).toBe(renderGeneratedModule());
  });

  it('holds one script per operation, each its .lua file with the shared pieces it includes inlined', () => {
    expect(Object.keys(luaScripts).sort()).toEqual([
      'acquire',
      'extend',
      'pause',
      'refund',
      'release',
      'renew',
      'snapshot',
    ]);
    const read = (path: string) =>
      readFileSync(new URL(`../../../src/stores/redis/scripts/${path}`, import.meta.url), 'utf8');
    for (const [name, source] of Object.entries(luaScripts)) {
      const lines = read(`${name}.lua`).split('\n');
      const expected = lines
        .map((line) => {
          const include = /^-- #include (lib\/.+\.lua)$/.exec(line);
          return include ? read(include[1]!).replace(/\n$/, '') : line;
        })
        .join('\n');
      expect(source).toBe(expected);
      // What EVALSHA runs is self-contained: no include left unresolved.
      expect(source).not.toMatch(/#include/);
    }
    // release and refund share the piece that keeps a window's log and sum alive together.
    expect(luaScripts.release).toContain('local function keep_log_and_sum(');
    expect(luaScripts.refund).toContain('local function keep_log_and_sum(');
  });
});
