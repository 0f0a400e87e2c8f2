import { editDistance } from '../validation/options';

// Bedrock prefixes its model ids with the vendor, optionally behind a cross-region profile
// (`us.anthropic.claude-3-5-haiku-20241022-v1:0`).
const VENDOR_PREFIX = /^(?:(?:us|eu|apac|global)\.)?(?:anthropic|mistral|meta|amazon|cohere|google|openai)\./;

// What may follow a known name and still be the same model: dates (`-2024-08-06`, `-20241022`,
// `@20241022`), snapshots (`-0613`, `-001`, `-2411`), Bedrock versions (`-v1:0`) and channel tags.
// Deliberately narrow: `o1-pro`, `gpt-4o-audio-preview` or `gemini-2.5-flash-image` are other
// models at other prices, and a loose prefix match would price them silently wrong.
const VERSION_SUFFIX = /^(?:[-@_](?:\d{2,}|v\d+(?::\d+)?|latest|preview|exp|experimental))+$/;

/**
 * The lowercase names to try for `model`, most specific first: as given, then without a
 * `provider/` path (`models/gemini-2.0-flash`, `openai/gpt-4o`) and Bedrock vendor prefix.
 */
export function modelNameCandidates(model: string): string[] {
  const lower = model.trim().toLowerCase();
  const bare = lower.slice(lower.lastIndexOf('/') + 1).replace(VENDOR_PREFIX, '');
  return bare === lower ? [lower] : [lower, bare];
}

/**
 * The key of `keys` that `model` names: an exact (case-insensitive) match, else the longest key
 * that `model` extends by a date or version suffix only. `undefined` when none does.
 */
export function matchModelName(model: string, keys: Iterable<string>): string | undefined {
  const list = [...keys];
  for (const name of modelNameCandidates(model)) {
    let best: string | undefined;
    for (const key of list) {
      const k = key.toLowerCase();
      if (k === name) return key;
      if (
        name.startsWith(k) &&
        VERSION_SUFFIX.test(name.slice(k.length)) &&
        (best === undefined || k.length > best.length)
      ) {
        best = key;
      }
    }
    if (best !== undefined) return best;
  }
  return undefined;
}

/** Up to `limit` keys closest to `model` (by edit distance; a key that `model` extends counts as close). */
export function closeModelNames(model: string, keys: Iterable<string>, limit = 3): string[] {
  const name = modelNameCandidates(model).at(-1)!;
  const scored: { key: string; score: number; distance: number }[] = [];
  for (const key of keys) {
    const k = key.toLowerCase();
    const distance = editDistance(name, k);
    // A key that the name extends (gpt-5 for gpt-5.1) beats an equally near sibling (gpt-4.1).
    const score = name.startsWith(k) || k.startsWith(name) ? Math.min(0.5, distance) : distance;
    if (score <= Math.max(3, Math.floor(name.length / 3))) scored.push({ key, score, distance });
  }
  scored.sort((a, b) => a.score - b.score || a.distance - b.distance || a.key.localeCompare(b.key));
  return scored.slice(0, limit).map((s) => s.key);
}
