import { formatValue, InvalidOptionError } from '../validation/options';

/**
 * Counts the tokens of a piece of text. Plug in a real tokenizer (for example js-tiktoken's
 * `o200k_base` for OpenAI models) with {@link setDefaultTokenizer} or {@link setModelTokenizer}.
 */
export interface Tokenizer {
  /** Number of tokens `text` encodes to (0 for the empty string). */
  count(text: string): number;
}

// One pass over the text, one alternative per kind of run. Order matters: CJK first (those
// scripts are also \p{L}), then Latin words, other letters, digits, whitespace, everything else.
const RUN =
  /([\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}])|(\p{Script=Latin}+)|([\p{L}\p{M}]+)|(\p{N}+)|(\s+)|([^\s\p{L}\p{N}]+)/gu;

// Calibrated against js-tiktoken o200k_base (see test/cost/estimate-tokens.test.ts for the
// corpus): BPE vocabularies hold most English words of up to ~8 letters as one token (a leading
// space included), longer words split every ~6 letters, digits are grouped by three, and runs of
// punctuation partly merge. Plain characters / 4 overestimates English prose by ~26 %.
const WORD_LETTERS_PER_TOKEN_START = 8;
const EXTRA_LETTERS_PER_TOKEN = 6;
const DIGITS_PER_TOKEN = 3;
const PUNCTUATION_EXTRA_CHAR_TOKENS = 0.3;
const WHITESPACE_RUN_TOKENS = 0.5;
const CJK_CHAR_TOKENS = 1;
const OTHER_SCRIPT_LETTERS_PER_TOKEN = 2.5;

function heuristicCount(text: string): number {
  if (text.length === 0) return 0;
  let tokens = 0;
  RUN.lastIndex = 0;
  for (let m = RUN.exec(text); m !== null; m = RUN.exec(text)) {
    if (m[1] !== undefined) tokens += CJK_CHAR_TOKENS;
    else if (m[2] !== undefined) {
      const n = m[2].length;
      tokens +=
        n <= WORD_LETTERS_PER_TOKEN_START
          ? 1
          : 1 + (n - WORD_LETTERS_PER_TOKEN_START) / EXTRA_LETTERS_PER_TOKEN;
    } else if (m[3] !== undefined) tokens += m[3].length / OTHER_SCRIPT_LETTERS_PER_TOKEN;
    else if (m[4] !== undefined) tokens += Math.ceil(m[4].length / DIGITS_PER_TOKEN);
    // A single space is absorbed into the next word's token; newlines and indentation are not.
    else if (m[5] !== undefined) tokens += m[5] === ' ' ? 0 : WHITESPACE_RUN_TOKENS;
    else if (m[6] !== undefined) tokens += 1 + (m[6].length - 1) * PUNCTUATION_EXTRA_CHAR_TOKENS;
  }
  return Math.ceil(tokens);
}

/**
 * The built-in tokenizer: a dependency-free, single-pass estimate from words, digits and
 * punctuation, calibrated on English prose to within a few percent of OpenAI's `o200k_base`
 * (and of `cl100k_base`, which counts English almost identically). It overestimates Cyrillic and
 * CJK slightly and underestimates long German compounds; plug in a real tokenizer where that matters.
 */
export const heuristicTokenizer: Tokenizer = Object.freeze({ count: heuristicCount });

let defaultTokenizer: Tokenizer = heuristicTokenizer;
const modelTokenizers = new Map<string, Tokenizer>();

/**
 * Replaces the tokenizer {@link estimateTokens} uses when no model-specific one applies.
 * Pass `undefined` to go back to {@link heuristicTokenizer}. Returns the previous one.
 */
export function setDefaultTokenizer(tokenizer: Tokenizer | undefined): Tokenizer {
  if (tokenizer !== undefined) assertTokenizer(tokenizer);
  const previous = defaultTokenizer;
  defaultTokenizer = tokenizer ?? heuristicTokenizer;
  return previous;
}

/** The tokenizer {@link estimateTokens} uses when no model-specific one applies. */
export function getDefaultTokenizer(): Tokenizer {
  return defaultTokenizer;
}

/**
 * Uses `tokenizer` for every model whose name starts with `modelPrefix` (case-insensitive;
 * the longest registered prefix wins), e.g. `setModelTokenizer('gpt-4o', o200k)`.
 * Pass `undefined` to remove the registration.
 */
export function setModelTokenizer(modelPrefix: string, tokenizer: Tokenizer | undefined): void {
  if (typeof modelPrefix !== 'string' || modelPrefix.length === 0) {
    throw new InvalidOptionError(
      'modelPrefix',
      `modelPrefix must be a non-empty string, got ${formatValue(modelPrefix)}`,
    );
  }
  const key = modelPrefix.toLowerCase();
  if (tokenizer === undefined) {
    modelTokenizers.delete(key);
    return;
  }
  assertTokenizer(tokenizer);
  modelTokenizers.set(key, tokenizer);
}

/** The tokenizer for `model`: the longest registered model prefix, else the default. */
export function tokenizerFor(model?: string): Tokenizer {
  if (model === undefined || modelTokenizers.size === 0) return defaultTokenizer;
  const name = model.toLowerCase();
  let best: Tokenizer | undefined;
  let bestLength = -1;
  for (const [prefix, tokenizer] of modelTokenizers) {
    if (prefix.length > bestLength && name.startsWith(prefix))
      [best, bestLength] = [tokenizer, prefix.length];
  }
  return best ?? defaultTokenizer;
}

function assertTokenizer(tokenizer: unknown): asserts tokenizer is Tokenizer {
  if (typeof (tokenizer as Tokenizer | null)?.count !== 'function') {
    throw new InvalidOptionError(
      'tokenizer',
      `tokenizer must be an object with a count(text) method, got ${formatValue(tokenizer)}`,
    );
  }
}
