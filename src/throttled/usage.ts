/**
 * Real token usage reported in a provider response, or `undefined` when it has none:
 * OpenAI's `usage.total_tokens`, or Anthropic's `usage.input_tokens + usage.output_tokens`
 * (also found one level down, in an SDK `withResponse()` result's `data`).
 */
export function usageTokensOf(result: unknown): number | undefined {
  if (typeof result !== 'object' || result === null) return undefined;
  const usage = (result as { usage?: unknown }).usage;
  if (typeof usage === 'object' && usage !== null) {
    const u = usage as Record<string, unknown>;
    if (typeof u.total_tokens === 'number') return u.total_tokens;
    if (typeof u.input_tokens === 'number' || typeof u.output_tokens === 'number') {
      return (typeof u.input_tokens === 'number' ? u.input_tokens : 0) + (typeof u.output_tokens === 'number' ? u.output_tokens : 0);
    }
    if (typeof u.totalTokens === 'number') return u.totalTokens;
  }
  const data = (result as { data?: unknown }).data;
  return data !== undefined && data !== result ? usageTokensOf(data) : undefined;
}
