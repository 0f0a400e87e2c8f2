import { describe, expect, it } from 'vitest';
import { usageTokensOf } from '../../src/cost/usage-tokens';

describe('usageTokensOf: tokens a response counts against token rate limits', () => {
  it('reads OpenAI chat usage, also inside a withResponse() result', () => {
    const completion = {
      usage: {
        prompt_tokens: 120,
        completion_tokens: 30,
        total_tokens: 150,
        prompt_tokens_details: { cached_tokens: 100 },
      },
    };
    expect(usageTokensOf(completion)).toBe(150);
    expect(usageTokensOf({ data: completion, response: {} })).toBe(150);
  });

  it('counts Anthropic cache writes but not cache reads', () => {
    const message = {
      usage: {
        input_tokens: 50,
        output_tokens: 20,
        cache_creation_input_tokens: 300,
        cache_read_input_tokens: 1000,
      },
    };
    expect(usageTokensOf(message)).toBe(370);
  });

  it('reads OpenAI Responses (cached tokens are part of input) and Gemini usageMetadata', () => {
    expect(
      usageTokensOf({
        usage: { input_tokens: 80, output_tokens: 20, input_tokens_details: { cached_tokens: 60 } },
      }),
    ).toBe(100);
    expect(
      usageTokensOf({
        usageMetadata: { promptTokenCount: 40, candidatesTokenCount: 10, thoughtsTokenCount: 5 },
      }),
    ).toBe(55);
  });

  it('reads the Vercel AI SDK camelCase usage', () => {
    expect(usageTokensOf({ usage: { inputTokens: 7, outputTokens: 3, totalTokens: 10 } })).toBe(10);
  });

  it('is undefined without usage, for unknown shapes and for broken counts', () => {
    expect(usageTokensOf(undefined)).toBeUndefined();
    expect(usageTokensOf('text')).toBeUndefined();
    expect(usageTokensOf({ choices: [] })).toBeUndefined();
    expect(usageTokensOf({ usage: { words: 3 } })).toBeUndefined();
    expect(usageTokensOf({ usage: { prompt_tokens: -1 } })).toBeUndefined();
  });
});
