import { didYouMean, InvalidOptionError } from '../validation/options';

/** `T` with every property readonly, all the way down (what a frozen preset is). @category Presets */
export type DeepReadonly<T> = { readonly [K in keyof T]: T[K] extends object ? DeepReadonly<T[K]> : T[K] };

/** Freezes an object and everything inside it, so a shared preset cannot be changed by one user. */
export function deepFreeze<T extends object>(value: T): DeepReadonly<T> {
  for (const key of Object.keys(value)) {
    const inner = (value as Record<string, unknown>)[key];
    if (inner && typeof inner === 'object' && !Object.isFrozen(inner)) deepFreeze(inner);
  }
  return Object.freeze(value);
}

/** Lookup helpers every preset table has, next to its named entries. @category Presets */
export interface PresetLookup<V> {
  /**
   * The preset called `name`, case-insensitive (`'openai_tier1'` = `OPENAI_TIER1`).
   * @throws RangeError naming the unknown preset, with the closest known name.
   */
  get(name: string): V;
  /** The preset names, in table order. */
  list(): string[];
}

/** Builds a deeply frozen preset table with case-insensitive `get` and `list`. */
export function presetTable<const T extends Record<string, object>>(
  kind: string,
  entries: T,
): DeepReadonly<T> & PresetLookup<DeepReadonly<T>[keyof T]> {
  const names = Object.keys(entries);
  const lookup: PresetLookup<DeepReadonly<T>[keyof T]> = {
    get(name: string) {
      const key = names.find((n) => n.toLowerCase() === String(name).toLowerCase());
      if (key === undefined) {
        throw new InvalidOptionError(
          'name',
          `Unknown ${kind} '${name}'${didYouMean(String(name).toUpperCase(), names)}; known: ${names.join(', ')}`,
        );
      }
      return entries[key] as DeepReadonly<T>[keyof T];
    },
    list: () => [...names],
  };
  const table = { ...entries };
  for (const key of ['get', 'list'] as const) {
    Object.defineProperty(table, key, { value: lookup[key], enumerable: false });
  }
  return deepFreeze(table) as DeepReadonly<T> & PresetLookup<DeepReadonly<T>[keyof T]>;
}
