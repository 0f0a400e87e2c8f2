import type { ChatContentPart, ChatMessage } from '../cost/chat-messages';
import { estimateTokens } from '../cost/estimate-tokens';
import { isRecord } from '../util/is-record';
import type { AiSdkCallOptions, AiSdkPromptPart } from './ai-sdk-shapes';

/**
 * The prompt tokens of a call, estimated from the AI SDK's call options: the messages of
 * `params.prompt`, with tool definitions, tool calls and tool results as the JSON the provider is
 * sent. Counted with the tokenizer registered for the model (`setModelTokenizer`), else the
 * default one.
 */
export function estimatePromptTokens(params: AiSdkCallOptions, modelId?: string): number {
  const options = modelId === undefined ? {} : { model: modelId };
  const messages = Array.isArray(params.prompt) ? params.prompt.map(toChatMessage) : [];
  let tokens = messages.length > 0 ? estimateTokens(messages, options) : 0;
  if (Array.isArray(params.tools) && params.tools.length > 0) {
    tokens += estimateTokens(JSON.stringify(params.tools), options);
  }
  return tokens;
}

/** The output bound a call sets (`maxOutputTokens`), 0 when it sets none. */
export function outputBoundOf(params: AiSdkCallOptions): number {
  const maxOutput = params.maxOutputTokens;
  return typeof maxOutput === 'number' && Number.isFinite(maxOutput) && maxOutput > 0 ? maxOutput : 0;
}

/**
 * The tokens a provider charges a call at admission: the prompt plus `maxOutputTokens`, as
 * OpenAI charges prompt + `max_tokens` up front (before any calibration to the provider's count).
 */
export function estimateCallTokens(params: AiSdkCallOptions, modelId?: string): number {
  return estimatePromptTokens(params, modelId) + outputBoundOf(params);
}

function toChatMessage(message: unknown): ChatMessage {
  if (!isRecord(message)) return { role: 'user', content: '' };
  const role = typeof message.role === 'string' ? message.role : 'user';
  const content = message.content;
  if (typeof content === 'string') return { role, content };
  if (!Array.isArray(content)) return { role, content: '' };
  return { role, content: (content as readonly unknown[]).map(toChatPart) };
}

/** One prompt part as the estimator counts it: its text, or the JSON the provider receives. */
function toChatPart(part: unknown): ChatContentPart {
  if (!isRecord(part)) return { type: 'text', text: '' };
  const p = part as AiSdkPromptPart & Record<string, unknown>;
  if (typeof p.text === 'string') return { type: 'text', text: p.text };
  if (p.type === 'tool-call') return { type: 'text', text: `${String(p.toolName)}${asText(p.input)}` };
  if (p.type === 'tool-result')
    return { type: 'text', text: asText(isRecord(p.output) ? p.output.value : p.output) };
  // A file (image, audio, PDF): the estimator's flat per-part charge.
  return { type: p.type };
}

function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined) return '';
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return '';
  }
}
