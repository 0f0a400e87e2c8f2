/** Where a value would not survive `JSON.stringify` → `JSON.parse` unchanged, and what it is. */
export interface NotJsonAt {
  /** Path from the root, e.g. `shared.results[3].client`. */
  path: string;
  /** What was found there, e.g. `a Map`, `a function`, `NaN`. */
  what: string;
}

/**
 * The first place in `value` that JSON would drop, change or refuse: functions, symbols, bigints,
 * non-finite numbers, cycles, and objects that are neither plain nor arrays nor have `toJSON` (a
 * Map or a class instance would silently become `{}`). `undefined` object fields are allowed (JSON
 * leaves them out, which reads back the same).
 */
export function findNotJson(value: unknown, path: string): NotJsonAt | undefined {
  return walk(value, path, new Set());
}

function walk(value: unknown, path: string, ancestors: Set<object>): NotJsonAt | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : { path, what: String(value) };
    case 'function':
      return { path, what: 'a function' };
    case 'symbol':
      return { path, what: 'a symbol' };
    case 'bigint':
      return { path, what: 'a bigint' };
  }
  if (value === null) return undefined;
  const object = value as object;
  if (typeof (object as { toJSON?: unknown }).toJSON === 'function') return undefined; // Date and friends
  if (ancestors.has(object)) return { path, what: 'a circular reference' };
  ancestors.add(object);
  try {
    if (Array.isArray(object)) {
      for (const [i, item] of object.entries()) {
        const found =
          item === undefined
            ? { path: `${path}[${i}]`, what: 'undefined' }
            : walk(item, `${path}[${i}]`, ancestors);
        if (found) return found;
      }
      return undefined;
    }
    const proto = Object.getPrototypeOf(object) as unknown;
    if (proto !== Object.prototype && proto !== null) {
      const name = (object.constructor as { name?: string } | undefined)?.name;
      return { path, what: name ? `a ${name}` : 'an object with a prototype' };
    }
    for (const [key, item] of Object.entries(object)) {
      const found = walk(
        item,
        /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`,
        ancestors,
      );
      if (found) return found;
    }
    return undefined;
  } finally {
    ancestors.delete(object);
  }
}
