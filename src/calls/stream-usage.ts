import { usageTokensOf } from '../cost/usage-tokens';
import { isRecord } from '../util/is-record';

const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;

/**
 * Reads token usage out of the chunks of a streaming response, whichever provider sent them:
 *
 * - OpenAI chat completions: the final chunk's `usage.total_tokens` (sent with
 *   `stream_options: { include_usage: true }`); Responses API: `response.completed`'s `response.usage`.
 * - Anthropic: `message_start` (`message.usage.input_tokens`) plus the running output total of
 *   `message_delta` (`usage.output_tokens`, cumulative; its `input_tokens` too when present).
 * - Gemini: `usageMetadata.totalTokenCount`.
 * - Vercel AI SDK: the `finish` part's `totalUsage` / `usage` `totalTokens`.
 *
 * Feed every chunk to {@link add}; {@link tokens} is the total so far (`undefined` until a chunk
 * carried usage).
 * @category Calls
 */
export class StreamUsage {
  private total: number | undefined;
  private input: number | undefined;
  private output: number | undefined;

  /** Takes in one chunk (chunks without usage are ignored). */
  add(chunk: unknown): void {
    if (!isRecord(chunk)) return;
    const type = chunk.type;
    if (type === 'message_start' && isRecord(chunk.message)) {
      this.anthropic(chunk.message.usage);
      return;
    }
    if (type === 'message_delta') {
      this.anthropic(chunk.usage);
      return;
    }
    if (typeof type === 'string' && type.startsWith('response.') && isRecord(chunk.response)) {
      this.setTotal(usageTokensOf(chunk.response));
      return;
    }
    if (isRecord(chunk.usageMetadata)) {
      this.setTotal(num(chunk.usageMetadata.totalTokenCount));
      return;
    }
    if (type === 'finish' && isRecord(chunk.totalUsage)) {
      this.setTotal(num(chunk.totalUsage.totalTokens));
      return;
    }
    this.setTotal(usageTokensOf(chunk));
  }

  /** Tokens used so far: the last total a chunk reported, or Anthropic's input + output. */
  get tokens(): number | undefined {
    if (this.total !== undefined) return this.total;
    if (this.input === undefined && this.output === undefined) return undefined;
    return (this.input ?? 0) + (this.output ?? 0);
  }

  private anthropic(usage: unknown): void {
    if (!isRecord(usage)) return;
    this.input = num(usage.input_tokens) ?? this.input;
    this.output = num(usage.output_tokens) ?? this.output;
  }

  private setTotal(tokens: number | undefined): void {
    if (tokens !== undefined) this.total = tokens;
  }
}
