import { z } from 'zod';
import { isRecord } from '../util/is-record';
import { brandError, isThrottleflowError, type ThrottleflowError } from '../errors/throttleflow-error';

/**
 * Thrown when an option object or argument is invalid; the message names the option and value
 * (and, for a misspelt option, the closest known one). A `TypeError`, as the built-ins throw for
 * bad arguments, and a {@link ThrottleflowError} by its brand.
 * @category Errors
 */
export class InvalidOptionError extends TypeError implements ThrottleflowError {
  override readonly name = 'InvalidOptionError';
  /** Stable code, for logs and `switch`es. */
  declare readonly code: 'INVALID_OPTION';
  /** Dotted path of the offending option or argument, e.g. `maxPerMinute` or `windows.0.limit`. */
  readonly option: string;
  /**
   * @param option - dotted path of the offending option or argument (`''` for the whole options object)
   * @param message - the full message, naming the option and the value it got
   */
  constructor(option: string, message: string) {
    super(message);
    brandError(this, 'INVALID_OPTION');
    this.option = option;
  }
}

/** Type guard for {@link InvalidOptionError}; recognises instances from other copies of throttleflow too. @category Errors */
export function isInvalidOptionError(error: unknown): error is InvalidOptionError {
  return isThrottleflowError(error, 'INVALID_OPTION');
}

const mustBe = (what: string) => ({ error: what });

/** Schema pieces whose failure message reads "must be <what>". */
export const opt = {
  positiveInt: () =>
    z
      .number(mustBe('a positive integer'))
      .int(mustBe('a positive integer'))
      .min(1, mustBe('a positive integer')),
  nonNegativeInt: () =>
    z
      .number(mustBe('a non-negative integer'))
      .int(mustBe('a non-negative integer'))
      .min(0, mustBe('a non-negative integer')),
  positiveNumber: () => z.number(mustBe('a positive number')).gt(0, mustBe('a positive number')),
  nonNegativeNumber: () => z.number(mustBe('a non-negative number')).min(0, mustBe('a non-negative number')),
  fraction: () =>
    z
      .number(mustBe('a number between 0 and 1'))
      .min(0, mustBe('a number between 0 and 1'))
      .max(1, mustBe('a number between 0 and 1')),
  string: () => z.string(mustBe('a string')),
  boolean: () => z.boolean(mustBe('a boolean')),
  oneOf: <const T extends readonly [string, ...string[]]>(values: T) =>
    z.enum(values, mustBe(`one of ${values.map((v) => `'${v}'`).join(', ')}`)),
  func: () => z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', mustBe('a function')),
  instance: <T>(isIt: (v: unknown) => v is T, what: string) => z.custom<T>((v) => isIt(v), mustBe(what)),
};

/** Renders a rejected value for an error message: strings quoted, objects as short JSON. */
export function formatValue(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  if (typeof value === 'function') return 'a function';
  try {
    const json = JSON.stringify(value);
    return json.length > 60 ? `${json.slice(0, 57)}...` : json;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function closest(name: string, candidates: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    const score = editDistance(lower, c.toLowerCase());
    if (score < bestScore) [best, bestScore] = [c, score];
  }
  return bestScore <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/** Levenshtein distance, for "did you mean" hints. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/** "did you mean 'x'?" for a misspelt name, or an empty string. */
export function didYouMean(name: string, candidates: readonly string[]): string {
  const hit = closest(name, candidates);
  return hit ? ` (did you mean '${hit}'?)` : '';
}

function knownKeys(schema: z.ZodType): string[] {
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

/**
 * Validates `input` with `schema` and returns the parsed value, or throws an
 * {@link InvalidOptionError} such as `maxPerMinute must be a positive integer, got -3`.
 * `subject` prefixes unknown-key errors (e.g. `Limiter`).
 */
export function parseOptions<T extends z.ZodType>(schema: T, input: unknown, subject: string): z.output<T> {
  const result = schema.safeParse(input ?? {}, { reportInput: true });
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const where = path ? `${path}.` : '';
    throw new InvalidOptionError(
      `${where}${key}`,
      `${subject}: unknown option '${where}${key}'${didYouMean(key, knownKeys(schema))}`,
    );
  }
  if (!path) {
    throw new InvalidOptionError('', `${subject} options must be an object, got ${formatValue(issue.input)}`);
  }
  throw new InvalidOptionError(path, `${path} must be ${issue.message}, got ${formatValue(issue.input)}`);
}

/**
 * The "unknown option" error `parseOptions` throws for a strict schema, for checks done by hand.
 * `where` prefixes nested options (`targets.0.`).
 */
export function unknownOptionError(
  key: string,
  known: readonly string[],
  subject: string,
  where = '',
): InvalidOptionError {
  return new InvalidOptionError(
    `${where}${key}`,
    `${subject}: unknown option '${where}${key}'${didYouMean(key, known)}`,
  );
}

/**
 * Throws {@link unknownOptionError} for the first key of `options` that is not in `known`, as a
 * strict schema would (for options split between several schemas, or read from several places).
 */
export function rejectUnknownOptions(
  options: Record<string, unknown>,
  known: readonly string[],
  subject: string,
): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw unknownOptionError(key, known, subject);
  }
}

/**
 * The first of `keys` that looks like a misspelt option without being one: the same letters in
 * another case, or (for names of 7 characters or more) within 2 edits. Shorter names are left
 * alone: within 2 edits of a short option lie ordinary words (`limit`/`limiter`, `models`/`model`)
 * that are a user's own fields.
 */
export function findMisspelt(keys: Iterable<string>, options: readonly string[]): string | undefined {
  for (const key of keys) {
    if (options.includes(key)) continue;
    const lower = key.toLowerCase();
    const close = options.some((option) => {
      const distance = editDistance(lower, option.toLowerCase());
      return distance === 0 || (key.length >= 7 && distance <= 2);
    });
    if (close) return key;
  }
  return undefined;
}

/**
 * Throws for a field of `instance` that looks like a misspelt option (see {@link findMisspelt}),
 * such as `maxConcurent = 5` on a subclass: such a field would be silently ignored. Only fields
 * the subclass added are checked: not `frameworkKeys` (the fields the library's constructors set),
 * not a method or accessor of the class. Fields like `model`, `prompt` or `client` pass.
 */
export function rejectMisspeltFields(
  instance: object,
  options: readonly string[],
  frameworkKeys: ReadonlySet<string>,
  subject: string,
): void {
  const prototype: unknown = Object.getPrototypeOf(instance);
  const added = Object.keys(instance).filter(
    (key) => !frameworkKeys.has(key) && !(isRecord(prototype) && key in prototype),
  );
  const key = findMisspelt(added, options);
  if (key === undefined) return;
  throw new InvalidOptionError(
    key,
    `${subject}: unknown option '${key}'${didYouMean(key, options)}, set as a field of the subclass ` +
      '(rename the field if it is not meant as an option)',
  );
}
