import { describe, expect, it } from 'vitest';
import { isContextLengthError } from '../../src/cost/context-length-error';
import { contextWindowOf } from '../../src/cost/context-window';
import { Limiter } from '../../src/limits/limiter';
import { withFallback, type FallbackTarget } from '../../src/routing/fallback-chain';

interface Prompt {
  promptTokens: number;
  maxOutputTokens: number;
}

const estimateCall = (p: Prompt) => ({ inputTokens: p.promptTokens, outputTokens: p.maxOutputTokens });

function modelTarget(
  name: string,
  fields: Partial<FallbackTarget<Prompt, string>>,
  sent: string[],
): FallbackTarget<Prompt, string> {
  return {
    name,
    limiter: new Limiter({ name, warnings: false }),
    call: (p) => {
      sent.push(name);
      return `${name}:${p.promptTokens}`;
    },
    ...fields,
  };
}

describe('context-aware targets', () => {
  it('sends a call that fits the small window there, and one just over it to the larger one', async () => {
    const sent: string[] = [];
    const chain = withFallback<Prompt, string>(
      [
        modelTarget('small', { contextWindowTokens: 8_000 }, sent),
        modelTarget('large', { contextWindowTokens: 128_000 }, sent),
      ],
      { estimateCall },
    );
    // Prompt + max output exactly at the window fits; one token more does not.
    expect(await chain.call({ promptTokens: 7_000, maxOutputTokens: 1_000 })).toBe('small:7000');
    expect(await chain.call({ promptTokens: 7_001, maxOutputTokens: 1_000 })).toBe('large:7001');
    expect(sent).toEqual(['small', 'large']);
    const stats = chain.stats();
    expect(stats.targets.small!.skips.contextWindow).toBe(1);
    // Skipping a target that cannot fit is routing, not a failure: nothing went wrong on `small`.
    expect(stats.targets.small!.failures + stats.targets.small!.refused).toBe(0);
  });

  it('reads the window from the model table, and fails with ContextLengthError only when no target fits', async () => {
    const sent: string[] = [];
    const miniWindow = contextWindowOf('gpt-4o-mini');
    const chain = withFallback<Prompt, string>(
      [modelTarget('mini', { model: 'gpt-4o-mini' }, sent), modelTarget('long', { model: 'gpt-4.1' }, sent)],
      { estimateCall, strategy: 'soonest' },
    );
    const longWindow = contextWindowOf('gpt-4.1');
    expect(longWindow).toBeGreaterThan(miniWindow);
    expect(await chain.call({ promptTokens: miniWindow - 100, maxOutputTokens: 100 })).toMatch(/^mini:/);
    expect(await chain.call({ promptTokens: miniWindow - 100, maxOutputTokens: 101 })).toMatch(/^long:/);
    expect(await chain.call({ promptTokens: longWindow - 1, maxOutputTokens: 1 })).toMatch(/^long:/);
    const error = await chain.call({ promptTokens: longWindow, maxOutputTokens: 1 }).catch((e: unknown) => e);
    expect(isContextLengthError(error)).toBe(true);
    expect(error).toMatchObject({
      contextWindowTokens: longWindow,
      excessTokens: 1,
      promptTokens: longWindow,
    });
    expect(String(error)).toMatch(/fit no target's context window/);
    expect(sent).toEqual(['mini', 'long', 'long']);
    expect(chain.stats()).toMatchObject({ calls: 4, served: 3, failed: 1 });
  });

  it('estimates a chat request by default (prompt estimate + max_tokens)', async () => {
    const sent: string[] = [];
    type Chat = { messages: { role: string; content: string }[]; max_tokens: number };
    const target = (name: string, contextWindowTokens: number): FallbackTarget<Chat, string> => ({
      name,
      limiter: new Limiter({ name, warnings: false }),
      contextWindowTokens,
      call: () => {
        sent.push(name);
        return name;
      },
    });
    const chain = withFallback([target('small', 1_000), target('large', 100_000)]);
    await chain.call({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 500 });
    await chain.call({ messages: [{ role: 'user', content: 'x'.repeat(4_000) }], max_tokens: 500 });
    expect(sent).toEqual(['small', 'large']);
  });
});
