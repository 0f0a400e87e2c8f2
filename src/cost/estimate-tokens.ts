import {
  looksLikeChatMessages,
  looksLikeChatRequest,
  type ChatContentPart,
  type ChatMessage,
  type ChatRequestLike,
} from './chat-messages';
import { tokenizerFor, type Tokenizer } from './tokenizer';
import { InvalidOptionError } from '../validation/options';

/** Options of {@link estimateTokens}. */
export interface EstimateTokensOptions {
  /**
   * Model the prompt is for; selects a tokenizer registered with `setModelTokenizer`.
   * For a request body, its own `model` is used when this is absent.
   * @default undefined (the default tokenizer)
   */
  model?: string;
  /**
   * Tokenizer to count with, overriding any default or model-specific one.
   * @default the tokenizer registered for `model`, else the default tokenizer
   */
  tokenizer?: Tokenizer;
  /**
   * Tokens counted for each content part without text (an image, audio, a file). 85 is what the
   * cheapest OpenAI image costs; high-detail images cost several hundred, so raise it if you send them.
   * @default 85
   */
  nonTextPartTokens?: number;
}

/** Tokens every chat message adds around its content (OpenAI's `<|start|>role…<|end|>` framing). */
export const TOKENS_PER_MESSAGE = 3;
/** Extra token for a message that carries a `name`. */
export const TOKENS_PER_NAME = 1;
/** Tokens that prime the assistant's reply, counted once per messages array. */
export const TOKENS_PER_REPLY = 3;

const DEFAULT_NON_TEXT_PART_TOKENS = 85;

/**
 * Estimates the prompt tokens of a string, a chat messages array (OpenAI `{ role, content }`,
 * content a string or an array of parts with `text`), or a request body holding `messages`
 * (and Anthropic's top-level `system`). Messages add {@link TOKENS_PER_MESSAGE} each and
 * {@link TOKENS_PER_REPLY} once, as OpenAI's cookbook counts them.
 *
 * Uses the fast built-in heuristic unless a tokenizer is given or registered.
 * @throws InvalidOptionError when the input is neither text nor chat messages, or an option is invalid.
 */
export function estimateTokens(
  input: string | readonly ChatMessage[] | ChatRequestLike,
  options: EstimateTokensOptions = {},
): number {
  const nonTextPartTokens = options.nonTextPartTokens ?? DEFAULT_NON_TEXT_PART_TOKENS;
  if (!(Number.isFinite(nonTextPartTokens) && nonTextPartTokens >= 0)) {
    throw new InvalidOptionError(
      'nonTextPartTokens',
      `nonTextPartTokens must be a non-negative number, got ${String(nonTextPartTokens)}`,
    );
  }
  if (typeof input === 'string') {
    return (options.tokenizer ?? tokenizerFor(options.model)).count(input);
  }
  // An empty array is a (degenerate) messages array, so it gets the reply priming only.
  if (Array.isArray(input) && input.length === 0) return TOKENS_PER_REPLY;
  if (looksLikeChatMessages(input)) {
    const tokenizer = options.tokenizer ?? tokenizerFor(options.model);
    return countMessages(input, { tokenizer, nonTextPartTokens });
  }
  if (looksLikeChatRequest(input)) {
    const tokenizer = options.tokenizer ?? tokenizerFor(options.model ?? input.model);
    const counter = { tokenizer, nonTextPartTokens };
    const system = input.system === undefined ? 0 : TOKENS_PER_MESSAGE + countContent(input.system, counter);
    return system + countMessages(input.messages, counter);
  }
  throw new InvalidOptionError(
    'input',
    `estimateTokens expects a string, chat messages or a request with messages, got ${describe(input)}`,
  );
}

interface Counter {
  tokenizer: Tokenizer;
  nonTextPartTokens: number;
}

function countMessages(messages: readonly ChatMessage[], counter: Counter): number {
  let total = TOKENS_PER_REPLY;
  for (const message of messages) {
    total += TOKENS_PER_MESSAGE + countContent(message.content ?? message.parts, counter);
    if (typeof message.name === 'string') total += TOKENS_PER_NAME + counter.tokenizer.count(message.name);
    for (const call of message.tool_calls ?? []) {
      total +=
        counter.tokenizer.count(call.function?.name ?? '') +
        counter.tokenizer.count(call.function?.arguments ?? '');
    }
  }
  return total;
}

function countContent(content: unknown, counter: Counter): number {
  if (content === undefined || content === null) return 0;
  if (typeof content === 'string') return counter.tokenizer.count(content);
  if (!Array.isArray(content)) return countPart(content, counter);
  let total = 0;
  for (const part of content as readonly unknown[]) total += countPart(part, counter);
  return total;
}

function countPart(part: unknown, counter: Counter): number {
  if (typeof part === 'string') return counter.tokenizer.count(part);
  if (typeof part !== 'object' || part === null) return 0;
  const p = part as ChatContentPart;
  if (typeof p.text === 'string') return counter.tokenizer.count(p.text);
  // Anthropic tool_result blocks nest their own content.
  if (typeof p.content === 'string' || Array.isArray(p.content)) return countContent(p.content, counter);
  // Tool calls as content blocks (Anthropic tool_use.input, Gemini functionCall/functionResponse)
  // reach the model as JSON.
  const structured = p.input ?? p.functionCall ?? p.functionResponse;
  if (typeof structured === 'object' && structured !== null)
    return counter.tokenizer.count(JSON.stringify(structured));
  return counter.nonTextPartTokens;
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array that is not chat messages';
  return typeof x === 'object' ? 'an object without messages' : typeof x;
}
