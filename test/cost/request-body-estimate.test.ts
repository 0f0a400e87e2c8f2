import { describe, expect, it } from 'vitest';
import { estimateTokens } from '../../src/cost/estimate-tokens';
import { estimateRequestBody } from '../../src/cost/request-body-estimate';

const text = 'The quick brown fox jumps over the lazy dog.';

describe('estimateRequestBody', () => {
  it('OpenAI chat completions: prompt + max_tokens / max_completion_tokens (× n)', () => {
    const messages = [{ role: 'user', content: text }];
    const prompt = estimateTokens(messages);
    expect(estimateRequestBody({ model: 'gpt-4o', messages, max_tokens: 100 })).toBe(prompt + 100);
    expect(estimateRequestBody({ model: 'gpt-4o', messages, max_completion_tokens: 50, n: 3 })).toBe(
      prompt + 150,
    );
  });

  it('Anthropic messages: system counts too', () => {
    const body = { model: 'claude', system: 'Be brief.', messages: [{ role: 'user', content: text }] };
    const without = estimateRequestBody({ ...body, system: undefined, max_tokens: 10 })!;
    expect(estimateRequestBody({ ...body, max_tokens: 10 })).toBeGreaterThan(without);
  });

  it('OpenAI Responses: instructions + input (string or items) + max_output_tokens', () => {
    const asString = estimateRequestBody({ model: 'gpt-5', input: text, max_output_tokens: 30 })!;
    expect(asString).toBe(estimateTokens([{ role: 'user', content: text }]) + 30);
    const asItems = estimateRequestBody({
      model: 'gpt-5',
      instructions: 'Be brief.',
      input: [{ role: 'user', content: [{ type: 'input_text', text }] }],
      max_output_tokens: 30,
    })!;
    expect(asItems).toBeGreaterThan(asString);
  });

  it('Gemini generateContent: contents (role optional) + systemInstruction + generationConfig.maxOutputTokens', () => {
    const body = {
      contents: [{ parts: [{ text }] }],
      systemInstruction: { parts: [{ text: 'Be brief.' }] },
      generationConfig: { maxOutputTokens: 64 },
    };
    const estimate = estimateRequestBody(body)!;
    expect(estimate).toBeGreaterThan(64 + estimateTokens(text));
  });

  it('anything else is not a model call', () => {
    for (const body of [undefined, null, 'text', 42, {}, { purpose: 'batch' }, [1, 2]]) {
      expect(estimateRequestBody(body)).toBeUndefined();
    }
  });
});
