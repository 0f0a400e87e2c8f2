import { isRecord } from '../util/is-record';

/** How the simulator charges one request against its token limit. */
export interface SimulatorTokenCost {
  /** Estimated prompt tokens: characters of all message contents (and `system`) / 4, rounded up. */
  promptTokens: number;
  /** `max_tokens` (or `max_completion_tokens`) × `n`; 0 when the request sets none. */
  maxOutputTokens: number;
  /** What the request is charged when admitted: prompt + max output, as OpenAI does up front. */
  totalTokens: number;
}

/**
 * The simulator's token cost of a chat-completions or messages request body. Exported so tests
 * and benches can compute exactly what the simulated provider will charge.
 */
export function simulatorTokenCost(body: unknown): SimulatorTokenCost {
  const request = isRecord(body) ? body : {};
  let chars = textLength(request.system);
  if (Array.isArray(request.messages)) {
    for (const message of request.messages) {
      if (isRecord(message)) chars += textLength(message.content);
    }
  }
  const promptTokens = Math.ceil(chars / 4);
  const maxTokens = count(request.max_tokens) ?? count(request.max_completion_tokens) ?? 0;
  const n = count(request.n) ?? 1;
  const maxOutputTokens = maxTokens * Math.max(1, n);
  return { promptTokens, maxOutputTokens, totalTokens: promptTokens + maxOutputTokens };
}

/** Characters of a content value: a string, or an array of parts with `text`. */
function textLength(content: unknown): number {
  if (typeof content === 'string') return content.length;
  if (!Array.isArray(content)) return 0;
  let total = 0;
  for (const part of content) {
    if (typeof part === 'string') total += part.length;
    else if (isRecord(part) && typeof part.text === 'string') total += part.text.length;
  }
  return total;
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined;
}
