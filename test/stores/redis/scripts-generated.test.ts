import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GENERATED_FILE, renderGeneratedModule } from '../../../src/stores/redis/generate-scripts';
import { luaScripts } from '../../../src/stores/redis/scripts.generated';

describe('scripts.generated.ts', () => {
  it('is up to date with src/stores/redis/scripts/*.lua (else run: npx tsx src/stores/redis/generate-scripts.ts)', () => {
    expect(readFileSync(GENERATED_FILE, 'utf8')).toBe(renderGeneratedModule());
  });

  it('holds one script per operation, each byte-identical to its .lua file', () => {
    expect(Object.keys(luaScripts).sort()).toEqual([
      'acquire',
      'extend',
      'pause',
      'refund',
      'release',
      'renew',
      'snapshot',
    ]);
    for (const [name, source] of Object.entries(luaScripts)) {
      const file = new URL(`../../../src/stores/redis/scripts/${name}.lua`, import.meta.url);
      expect(source).toBe(readFileSync(file, 'utf8'));
    }
  });
});
