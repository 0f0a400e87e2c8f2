import { z } from 'zod';
import { formatValue, InvalidOptionError, opt, parseOptions } from '../validation/options';
import { closeModelNames, matchModelName } from './model-name';
import { DEFAULT_MODEL_PRICES, type ModelPrice } from './prices';
import { UnknownModelError } from './unknown-model-error';

const longContextSchema = z.strictObject({
  aboveInputTokens: opt.positiveInt(),
  inputUsdPerMillion: opt.nonNegativeNumber(),
  outputUsdPerMillion: opt.nonNegativeNumber(),
  cachedInputUsdPerMillion: opt.nonNegativeNumber().optional(),
  cacheWriteUsdPerMillion: opt.nonNegativeNumber().optional(),
});

const modelPriceSchema = z.strictObject({
  inputUsdPerMillion: opt.nonNegativeNumber(),
  outputUsdPerMillion: opt.nonNegativeNumber(),
  cachedInputUsdPerMillion: opt.nonNegativeNumber().optional(),
  cacheWriteUsdPerMillion: opt.nonNegativeNumber().optional(),
  contextWindowTokens: opt.positiveInt(),
  maxOutputTokens: opt.positiveInt().optional(),
  maxInputTokens: opt.positiveInt().optional(),
  longContext: longContextSchema.optional(),
  provider: opt.string().optional(),
});

const MAX_CACHED_NAMES = 1024;

/** A price entry found for a model name: the table key it resolved to and its price. */
export interface ResolvedModelPrice {
  /** The table key the name resolved to (`gpt-4o` for `gpt-4o-2024-08-06`). */
  model: string;
  price: Readonly<ModelPrice>;
}

/**
 * Model prices and limits by name. Lookups are case-insensitive and accept dated or versioned
 * names of a known model (`gpt-4o-2024-08-06` → `gpt-4o`, longest match wins), a `provider/`
 * prefix and Bedrock ids; any other name is an {@link UnknownModelError}, never a zero price.
 */
export class PriceTable {
  readonly #initial: Readonly<Record<string, Readonly<ModelPrice>>>;
  readonly #entries = new Map<string, Readonly<ModelPrice>>();
  readonly #resolved = new Map<string, string | null>();

  /** @param entries initial prices by model name; validated like {@link set}. */
  constructor(entries: Readonly<Record<string, ModelPrice>> = {}) {
    this.#initial = entries;
    this.reset();
  }

  /**
   * Adds or replaces the price of `model` (stored under its lowercase name).
   * @throws InvalidOptionError naming the field, e.g. `gpt-4o.inputUsdPerMillion must be a non-negative number, got -1`.
   */
  set(model: string, price: ModelPrice): this {
    const key = PriceTable.#key(model);
    const parsed = parseOptions(z.strictObject({ [key]: modelPriceSchema }), { [key]: price }, 'PriceTable');
    const entry = parsed[key] as ModelPrice;
    if (entry.longContext) Object.freeze(entry.longContext);
    this.#entries.set(key, Object.freeze(entry));
    this.#resolved.clear();
    return this;
  }

  /**
   * Sets several models at once. A partial entry is merged over the price `model` currently
   * resolves to, so `{ 'gpt-4o-2024-05-13': { inputUsdPerMillion: 5, outputUsdPerMillion: 15 } }`
   * keeps gpt-4o's context window. A model that resolves to nothing needs a full entry.
   */
  define(entries: Readonly<Record<string, Partial<ModelPrice>>>): this {
    for (const [model, partial] of Object.entries(entries)) {
      this.set(model, { ...this.find(model)?.price, ...partial } as ModelPrice);
    }
    return this;
  }

  /**
   * The price of `model`.
   * @throws UnknownModelError naming the model and the closest known names.
   */
  get(model: string): Readonly<ModelPrice> {
    return this.resolve(model).price;
  }

  /**
   * The table key `model` resolves to, with its price.
   * @throws UnknownModelError naming the model and the closest known names.
   */
  resolve(model: string): ResolvedModelPrice {
    const found = this.find(model);
    if (found === undefined)
      throw new UnknownModelError(String(model), closeModelNames(String(model), this.#entries.keys()));
    return found;
  }

  /** Like {@link resolve}, but `undefined` for an unknown model. */
  find(model: string): ResolvedModelPrice | undefined {
    if (typeof model !== 'string' || model.trim() === '') return undefined;
    let key = this.#resolved.get(model);
    if (key === undefined) {
      key = matchModelName(model, this.#entries.keys()) ?? null;
      // Bounded: callers may pass arbitrary names, and the cache must not grow with them.
      if (this.#resolved.size >= MAX_CACHED_NAMES) this.#resolved.clear();
      this.#resolved.set(model, key);
    }
    return key === null ? undefined : { model: key, price: this.#entries.get(key)! };
  }

  /** Whether `model` resolves to a price. */
  has(model: string): boolean {
    return this.find(model) !== undefined;
  }

  /** Removes the exact entry `model` (not what it resolves to); true when there was one. */
  delete(model: string): boolean {
    const removed = this.#entries.delete(PriceTable.#key(model));
    this.#resolved.clear();
    return removed;
  }

  /** The model names in the table, in insertion order. */
  models(): string[] {
    return [...this.#entries.keys()];
  }

  /** Back to the entries the table was constructed with, dropping every later change. */
  reset(): this {
    this.#entries.clear();
    this.#resolved.clear();
    for (const [model, price] of Object.entries(this.#initial)) this.set(model, price);
    return this;
  }

  static #key(model: string): string {
    if (typeof model !== 'string' || model.trim() === '') {
      throw new InvalidOptionError('model', `model must be a non-empty string, got ${formatValue(model)}`);
    }
    return model.trim().toLowerCase();
  }
}

/** The shared table `costOf`, `contextWindowOf` and `Budget` use unless given another. */
export const defaultPriceTable = new PriceTable(DEFAULT_MODEL_PRICES);

/**
 * Adds or overrides prices in `table` (the default table unless given); see {@link PriceTable.define}.
 * Returns the table.
 */
export function definePrices(
  entries: Readonly<Record<string, Partial<ModelPrice>>>,
  table: PriceTable = defaultPriceTable,
): PriceTable {
  return table.define(entries);
}
