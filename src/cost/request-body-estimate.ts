import { isRecord } from '../util/is-record';
import { estimateChatCall, maxOutputTokensOf } from './call-spend';
import type { ChatMessage } from './chat-messages';
import { estimateTokens } from './estimate-tokens';

/**
 * The token estimate of one model-call request body, as a provider charges it up front: the
 * prompt (estimated with {@link estimateTokens}) plus the most output it allows
 * ({@link maxOutputTokensOf}). Understands OpenAI chat completions (`messages`) and Responses
 * (`input`, `instructions`), Anthropic messages (`system`, `messages`) and Gemini
 * generateContent (`contents`, `systemInstruction`). `undefined` for any other body (not a
 * model call, or a shape it does not know).
 */
export function estimateRequestBody(body: unknown): number | undefined {
  if (!isRecord(body)) return undefined;
  const model = typeof body.model === 'string' ? body.model : undefined;
  const chat = estimateChatCall(body, model);
  if (chat) return chat.inputTokens + chat.outputTokens;
  const messages = responsesMessages(body) ?? geminiMessages(body);
  if (!messages) return undefined;
  const prompt = messages.length === 0 ? 0 : estimateTokens(messages, model === undefined ? {} : { model });
  return prompt + maxOutputTokensOf(body);
}

/** OpenAI Responses: `instructions` and `input` (a string, or items with `role` and `content`). */
function responsesMessages(body: Record<string, unknown>): ChatMessage[] | undefined {
  const { input, instructions } = body;
  if (typeof input !== 'string' && !Array.isArray(input)) return undefined;
  const messages: ChatMessage[] = [];
  if (typeof instructions === 'string') messages.push({ role: 'system', content: instructions });
  if (typeof input === 'string') {
    messages.push({ role: 'user', content: input });
    return messages;
  }
  for (const item of input) {
    if (typeof item === 'string') messages.push({ role: 'user', content: item });
    else if (isRecord(item)) messages.push(itemMessage(item));
  }
  return messages;
}

/** One Responses input item: a message (`content` a string or parts), or a tool call / output as JSON. */
function itemMessage(item: Record<string, unknown>): ChatMessage {
  const role = typeof item.role === 'string' ? item.role : 'user';
  const { content } = item;
  if (typeof content === 'string' || Array.isArray(content)) {
    return { role, content: content as ChatMessage['content'] };
  }
  const text = typeof item.output === 'string' ? item.output : JSON.stringify(item);
  return { role, content: text };
}

/** Gemini: `systemInstruction` and `contents` (each `{ role?, parts }`). */
function geminiMessages(body: Record<string, unknown>): ChatMessage[] | undefined {
  const { contents, systemInstruction } = body;
  if (!Array.isArray(contents)) return undefined;
  const messages: ChatMessage[] = [];
  if (isRecord(systemInstruction) && Array.isArray(systemInstruction.parts)) {
    messages.push({ role: 'system', parts: systemInstruction.parts as ChatMessage['parts'] & object });
  }
  for (const entry of contents) {
    if (isRecord(entry) && Array.isArray(entry.parts)) {
      const role = typeof entry.role === 'string' ? entry.role : 'user';
      messages.push({ role, parts: entry.parts as ChatMessage['parts'] & object });
    }
  }
  return messages;
}
