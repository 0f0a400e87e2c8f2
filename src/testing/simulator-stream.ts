import type { SimulatedRequest } from './simulator-responses';

/** One server-sent event: an optional `event:` name and its `data:` payload (JSON, or `[DONE]`). */
export interface SimulatedStreamEvent {
  event?: string;
  data: unknown;
}

/** How many text deltas a streamed answer is cut into (at most; short texts get fewer). */
const TEXT_PIECES = 4;

/** Whether a request body asks for a streamed answer (`"stream": true`). */
export function wantsStream(body: unknown): boolean {
  return typeof body === 'object' && body !== null && (body as { stream?: unknown }).stream === true;
}

/** Whether an OpenAI streaming request asked for a final usage chunk (`stream_options.include_usage`). */
export function wantsStreamUsage(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  const options = (body as { stream_options?: unknown }).stream_options;
  return (
    typeof options === 'object' &&
    options !== null &&
    (options as { include_usage?: unknown }).include_usage === true
  );
}

/**
 * The events of a streamed 200 answer in the dialect's shape: OpenAI `chat.completion.chunk`s
 * (a final chunk with `usage` when `includeUsage`, then `[DONE]`), or Anthropic's
 * `message_start` … `message_stop` with the output tokens in `message_delta`.
 */
export function streamEvents(request: SimulatedRequest, includeUsage: boolean): SimulatedStreamEvent[] {
  const text = `sim: ${request.lastText.slice(0, 200)}`;
  const pieces = splitText(text, TEXT_PIECES);
  return request.dialect === 'anthropic'
    ? anthropicEvents(request, pieces)
    : openaiEvents(request, pieces, includeUsage);
}

/** One event in the wire format: `event: …` (when named), `data: …`, and a blank line. */
export function formatStreamEvent(event: SimulatedStreamEvent): string {
  const data = typeof event.data === 'string' ? event.data : JSON.stringify(event.data);
  return `${event.event === undefined ? '' : `event: ${event.event}\n`}data: ${data}\n\n`;
}

function openaiEvents(
  request: SimulatedRequest,
  pieces: string[],
  includeUsage: boolean,
): SimulatedStreamEvent[] {
  const { requestNumber, model, n, cost, completionTokens } = request;
  const base = {
    id: `chatcmpl-sim-${requestNumber}`,
    object: 'chat.completion.chunk',
    created: Math.floor(Date.now() / 1000),
    model,
    system_fingerprint: 'fp_simulator',
  };
  // With include_usage every chunk carries `usage: null` and one extra chunk carries the totals.
  const usageField = includeUsage ? { usage: null } : {};
  const chunk = (delta: Record<string, unknown>, finishReason: string | null): SimulatedStreamEvent => ({
    data: {
      ...base,
      choices: Array.from({ length: n }, (_, index) => ({
        index,
        delta,
        logprobs: null,
        finish_reason: finishReason,
      })),
      ...usageField,
    },
  });
  const events: SimulatedStreamEvent[] = [chunk({ role: 'assistant', content: '', refusal: null }, null)];
  for (const piece of pieces) events.push(chunk({ content: piece }, null));
  events.push(chunk({}, 'stop'));
  if (includeUsage) {
    const outputTokens = completionTokens * n;
    events.push({
      data: {
        ...base,
        choices: [],
        usage: {
          prompt_tokens: cost.promptTokens,
          completion_tokens: outputTokens,
          total_tokens: cost.promptTokens + outputTokens,
        },
      },
    });
  }
  events.push({ data: '[DONE]' });
  return events;
}

function anthropicEvents(request: SimulatedRequest, pieces: string[]): SimulatedStreamEvent[] {
  const { requestNumber, model, cost, completionTokens } = request;
  const named = (type: string, fields: Record<string, unknown> = {}): SimulatedStreamEvent => ({
    event: type,
    data: { type, ...fields },
  });
  return [
    named('message_start', {
      message: {
        id: `msg_sim_${requestNumber}`,
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        // Anthropic reports the prompt up front and a placeholder output count until message_delta.
        usage: { input_tokens: cost.promptTokens, output_tokens: 1 },
      },
    }),
    named('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    named('ping'),
    ...pieces.map((text) => named('content_block_delta', { index: 0, delta: { type: 'text_delta', text } })),
    named('content_block_stop', { index: 0 }),
    named('message_delta', {
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: completionTokens },
    }),
    named('message_stop'),
  ];
}

/** Cuts `text` into at most `count` non-empty pieces, in order. */
function splitText(text: string, count: number): string[] {
  const size = Math.max(1, Math.ceil(text.length / count));
  const pieces: string[] = [];
  for (let start = 0; start < text.length; start += size) pieces.push(text.slice(start, start + size));
  return pieces;
}
