import { isRecord } from '../util/is-record';
import { normalizeUsage } from './usage';

/**
 * Tokens a provider response counts against token rate limits, or `undefined` when it reports
 * no usage: its stated total (`total_tokens`, `totalTokens`), else read with {@link normalizeUsage} (OpenAI, Anthropic, Gemini `usageMetadata`, the
 * Vercel AI SDK), also one level down in an SDK `withResponse()` result's `data`. Anthropic's
 * cache reads are left out: its input-token limits do not count them (its cache writes count).
 */
export function usageTokensOf(result: unknown): number | undefined {
  let holder = result;
  for (let depth = 0; depth < 2 && isRecord(holder); depth++, holder = holder.data) {
    const usage = holder.usage ?? holder.usageMetadata;
    if (!isRecord(usage)) continue;
    // A total the provider states wins (OpenAI's total_tokens, the camelCase totalTokens).
    const total = usage.total_tokens ?? usage.totalTokens;
    if (typeof total === 'number' && Number.isFinite(total) && total >= 0) return total;
    try {
      const counts = normalizeUsage(usage);
      const anthropic = 'cache_read_input_tokens' in usage && !('input_tokens_details' in usage);
      return anthropic ? counts.totalTokens - counts.cachedInputTokens : counts.totalTokens;
    } catch {
      return undefined; // an unknown or broken usage shape: no reconcile rather than a failed item
    }
  }
  return undefined;
}
