import { isRecord } from '../util/is-record';

/**
 * One part of a multi-part message content: OpenAI's `{ type: 'text', text }` /
 * `{ type: 'image_url', … }`, Anthropic's content blocks, or Gemini's `{ text }` parts.
 */
export interface ChatContentPart {
  type?: string;
  text?: string;
  [key: string]: unknown;
}

/**
 * A chat message in OpenAI's shape (`{ role, content }`, content a string, an array of parts or
 * `null` for a tool-calling assistant turn). Gemini's `{ role, parts }` is accepted as well.
 */
export interface ChatMessage {
  role: string;
  content?: string | readonly ChatContentPart[] | null;
  /** Gemini's name for `content`. */
  parts?: readonly ChatContentPart[];
  /** Optional participant name (OpenAI counts it, plus one token). */
  name?: string;
  /** OpenAI assistant tool calls; their names and JSON arguments are prompt tokens on the next turn. */
  tool_calls?: readonly { function?: { name?: string; arguments?: string } }[];
  [key: string]: unknown;
}

/**
 * A request body that carries messages: OpenAI's `{ model, messages }` or Anthropic's
 * `{ model, system, messages }` (whose system prompt sits outside the messages).
 */
export interface ChatRequestLike {
  messages: readonly ChatMessage[];
  model?: string;
  system?: string | readonly ChatContentPart[];
  [key: string]: unknown;
}

function isMessage(x: unknown): x is ChatMessage {
  if (!isRecord(x) || typeof x.role !== 'string') return false;
  const { content, parts } = x;
  if (parts !== undefined) return Array.isArray(parts);
  return content === undefined || content === null || typeof content === 'string' || Array.isArray(content);
}

/**
 * True when `x` is a non-empty array of chat messages: every element an object with a string
 * `role` and a string, array, `null` or absent `content` (or a `parts` array). An empty array is
 * not recognised, since nothing tells it apart from an empty batch of anything else.
 */
export function looksLikeChatMessages(x: unknown): x is ChatMessage[] {
  return Array.isArray(x) && x.length > 0 && x.every(isMessage);
}

/** True when `x` is an object whose `messages` {@link looksLikeChatMessages} (a request body). */
export function looksLikeChatRequest(x: unknown): x is ChatRequestLike {
  return isRecord(x) && looksLikeChatMessages(x.messages);
}
