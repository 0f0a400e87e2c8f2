import { readFileSync } from 'node:fs';
import { Tiktoken } from 'js-tiktoken/lite';
import o200k_base from 'js-tiktoken/ranks/o200k_base';
import cl100k_base from 'js-tiktoken/ranks/cl100k_base';
import { afterEach, describe, expect, it } from 'vitest';
import {
  estimateTokens,
  getDefaultTokenizer,
  heuristicTokenizer,
  setDefaultTokenizer,
  setModelTokenizer,
  type Tokenizer,
} from '../../src/cost';
import { looksLikeChatMessages, looksLikeChatRequest } from '../../src/cost/chat-messages';
import { TOKENS_PER_MESSAGE, TOKENS_PER_NAME, TOKENS_PER_REPLY } from '../../src/cost/estimate-tokens';

const o200k = new Tiktoken(o200k_base);
const cl100k = new Tiktoken(cl100k_base);
const tiktokenO200k: Tokenizer = { count: (text) => o200k.encode(text).length };

const corpus = readFileSync(new URL('./fixtures/english-corpus.txt', import.meta.url), 'utf8');
const paragraphs = corpus
  .split(/\n\s*\n/)
  .map((p) => p.trim())
  .filter((p) => p.length > 0);

afterEach(() => {
  setDefaultTokenizer(undefined);
  setModelTokenizer('gpt-4o', undefined);
  setModelTokenizer('gpt-4o-mini', undefined);
});

describe('estimateTokens default heuristic vs a real tokenizer', () => {
  it('the corpus is a few dozen paragraphs of English prose', () => {
    expect(paragraphs.length).toBeGreaterThanOrEqual(30);
  });

  it('is within 10 % of js-tiktoken o200k_base (GPT-4o / GPT-5 tokenizer) in total over the English corpus', () => {
    const estimated = paragraphs.reduce((sum, p) => sum + estimateTokens(p), 0);
    const actual = paragraphs.reduce((sum, p) => sum + o200k.encode(p).length, 0);
    expect(Math.abs(estimated / actual - 1)).toBeLessThanOrEqual(0.1);
  });

  it('is within 10 % of js-tiktoken cl100k_base (GPT-4 / GPT-3.5 tokenizer) in total over the English corpus', () => {
    const estimated = paragraphs.reduce((sum, p) => sum + estimateTokens(p), 0);
    const actual = paragraphs.reduce((sum, p) => sum + cl100k.encode(p).length, 0);
    expect(Math.abs(estimated / actual - 1)).toBeLessThanOrEqual(0.1);
  });

  it('keeps every single English paragraph within 12 % of o200k_base', () => {
    const outliers = paragraphs
      .map((p) => ({ paragraph: p.slice(0, 40), error: estimateTokens(p) / o200k.encode(p).length - 1 }))
      .filter(({ error }) => Math.abs(error) > 0.12);
    expect(outliers).toEqual([]);
  });

  it('does not underestimate CJK text the way characters / 4 does (o200k_base)', () => {
    const samples = [
      '火车当然晚点了。每年第一个寒冷的早晨它总是晚点，好像铁轨本身也需要时间醒来。',
      '電車はもちろん遅れていた。その年の最初の寒い朝には、いつも遅れていた。',
      '기차는 물론 늦었다. 한 해의 첫 추운 아침에는 항상 늦었다.',
    ];
    for (const s of samples) {
      expect(estimateTokens(s)).toBeGreaterThanOrEqual(0.9 * o200k.encode(s).length);
      expect(Math.ceil(s.length / 4)).toBeLessThan(0.5 * o200k.encode(s).length);
    }
  });

  it('counts the empty string as zero and grows with the text', () => {
    expect(estimateTokens('')).toBe(0);
    expect(estimateTokens('hello')).toBe(1);
    expect(estimateTokens('hello world, hello world')).toBeGreaterThan(estimateTokens('hello world'));
    expect(estimateTokens('1234567890')).toBe(4); // digits group by three, as in o200k_base
  });
});

describe('estimateTokens on chat messages', () => {
  const count = (s: string) => heuristicTokenizer.count(s);

  it('adds per-message framing and reply priming to the content tokens', () => {
    const messages = [
      { role: 'system', content: 'You translate English to French.' },
      { role: 'user', content: 'The train was late, of course.' },
    ];
    expect(estimateTokens(messages)).toBe(
      TOKENS_PER_REPLY +
        2 * TOKENS_PER_MESSAGE +
        count('You translate English to French.') +
        count('The train was late, of course.'),
    );
  });

  it('matches o200k_base plus the OpenAI cookbook overheads when o200k_base is plugged in', () => {
    const messages = paragraphs
      .slice(0, 5)
      .map((content, i) => ({ role: i % 2 ? 'assistant' : 'user', content }));
    const expected =
      TOKENS_PER_REPLY +
      messages.reduce((sum, m) => sum + TOKENS_PER_MESSAGE + o200k.encode(m.content).length, 0);
    expect(estimateTokens(messages, { tokenizer: tiktokenO200k })).toBe(expected);
  });

  it('reads text parts, names, tool calls and counts each non-text part', () => {
    const messages = [
      {
        role: 'user',
        name: 'maya',
        content: [
          { type: 'text', text: 'What is in this picture?' },
          { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
        ],
      },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ function: { name: 'lookup', arguments: '{"q":"bees"}' } }],
      },
    ];
    const expected =
      TOKENS_PER_REPLY +
      2 * TOKENS_PER_MESSAGE +
      TOKENS_PER_NAME +
      count('maya') +
      count('What is in this picture?') +
      85 +
      count('lookup') +
      count('{"q":"bees"}');
    expect(estimateTokens(messages)).toBe(expected);
    expect(estimateTokens(messages, { nonTextPartTokens: 765 })).toBe(expected - 85 + 765);
  });

  it('counts an Anthropic request body with a top-level system prompt and tool blocks', () => {
    const request = {
      model: 'claude-3-5-haiku-20241022',
      system: 'Be brief.',
      messages: [
        { role: 'user', content: 'Weather in Lisbon?' },
        {
          role: 'assistant',
          content: [{ type: 'tool_use', id: 't1', name: 'weather', input: { city: 'Lisbon' } }],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'Sunny, 18 degrees' }] },
      ],
    };
    const expected =
      TOKENS_PER_MESSAGE +
      count('Be brief.') +
      TOKENS_PER_REPLY +
      3 * TOKENS_PER_MESSAGE +
      count('Weather in Lisbon?') +
      count(JSON.stringify({ city: 'Lisbon' })) +
      count('Sunny, 18 degrees');
    expect(estimateTokens(request)).toBe(expected);
  });

  it('accepts Gemini-style { role, parts } contents', () => {
    const contents = [{ role: 'user', parts: [{ text: 'Hello there' }, { text: 'General Kenobi' }] }];
    expect(estimateTokens(contents)).toBe(
      TOKENS_PER_REPLY + TOKENS_PER_MESSAGE + count('Hello there') + count('General Kenobi'),
    );
  });

  it('rejects input that is neither text nor messages with a TypeError', () => {
    expect(() => estimateTokens(42 as never)).toThrow(/expects a string, chat messages/);
    expect(() => estimateTokens([{ foo: 1 }] as never)).toThrow(TypeError);
    expect(() => estimateTokens({ prompt: 'x' } as never)).toThrow(/object without messages/);
    expect(() => estimateTokens('x', { nonTextPartTokens: -1 })).toThrow(
      /nonTextPartTokens must be a non-negative number, got -1/,
    );
  });
});

describe('pluggable tokenizers', () => {
  it('setDefaultTokenizer replaces the default and returns the previous one; undefined restores the heuristic', () => {
    const previous = setDefaultTokenizer(tiktokenO200k);
    expect(previous).toBe(heuristicTokenizer);
    expect(getDefaultTokenizer()).toBe(tiktokenO200k);
    const text = paragraphs[3]!;
    expect(estimateTokens(text)).toBe(o200k.encode(text).length);
    setDefaultTokenizer(undefined);
    expect(estimateTokens(text)).toBe(heuristicTokenizer.count(text));
  });

  it('uses a model tokenizer by longest prefix, and an explicit tokenizer over both', () => {
    const ten: Tokenizer = { count: () => 10 };
    const twenty: Tokenizer = { count: () => 20 };
    setModelTokenizer('gpt-4o', ten);
    setModelTokenizer('gpt-4o-mini', twenty);
    expect(estimateTokens('anything', { model: 'GPT-4o-2024-08-06' })).toBe(10);
    expect(estimateTokens('anything', { model: 'gpt-4o-mini' })).toBe(20);
    expect(estimateTokens('anything', { model: 'claude-sonnet-4' })).toBe(
      heuristicTokenizer.count('anything'),
    );
    expect(estimateTokens('anything', { model: 'gpt-4o', tokenizer: { count: () => 7 } })).toBe(7);
    // A request body's own model picks the tokenizer too.
    expect(estimateTokens({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] })).toBe(
      TOKENS_PER_REPLY + TOKENS_PER_MESSAGE + 10,
    );
  });

  it('refuses something that is not a tokenizer', () => {
    expect(() => setDefaultTokenizer({} as Tokenizer)).toThrow(/count\(text\) method/);
    expect(() => setModelTokenizer('', heuristicTokenizer)).toThrow(/non-empty string/);
  });
});

describe('looksLikeChatMessages', () => {
  it.each([
    [[{ role: 'user', content: 'hi' }]],
    [[{ role: 'user', content: [{ type: 'text', text: 'hi' }] }]],
    [[{ role: 'assistant', content: null, tool_calls: [] }]],
    [[{ role: 'model', parts: [{ text: 'hi' }] }]],
  ])('accepts %j', (x) => {
    expect(looksLikeChatMessages(x)).toBe(true);
  });

  it.each([
    [[]],
    ['hi'],
    [null],
    [[{ content: 'no role' }]],
    [[{ role: 'user', content: 3 }]],
    [[{ role: 'user', content: 'ok' }, 'x']],
    [{ role: 'user', content: 'x' }],
  ])('rejects %j', (x) => {
    expect(looksLikeChatMessages(x)).toBe(false);
  });

  it('looksLikeChatRequest finds messages inside a request body only', () => {
    expect(looksLikeChatRequest({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] })).toBe(true);
    expect(looksLikeChatRequest([{ role: 'user', content: 'hi' }])).toBe(false);
    expect(looksLikeChatRequest({ messages: [] })).toBe(false);
  });
});
