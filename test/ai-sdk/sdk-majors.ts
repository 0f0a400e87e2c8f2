/**
 * The three AI SDK majors under test (npm aliases ai-v5/6/7 and ai-sdk-openai-v5/6/7), each
 * behind one small interface, so every test runs the real `generateText` / `streamText` of each.
 * Each adapter is typed against its own major, which also checks that the middleware's type fits
 * that major's `wrapLanguageModel` and `wrapProvider`.
 */
import * as ai5 from 'ai-v5';
import * as ai6 from 'ai-v6';
import * as ai7 from 'ai-v7';
import { createOpenAI as createOpenAI5 } from 'ai-sdk-openai-v5';
import { createOpenAI as createOpenAI6 } from 'ai-sdk-openai-v6';
import { createOpenAI as createOpenAI7 } from 'ai-sdk-openai-v7';
import { createAnthropic as createAnthropic5 } from 'ai-sdk-anthropic-v5';
import { createAnthropic as createAnthropic6 } from 'ai-sdk-anthropic-v6';
import { createAnthropic as createAnthropic7 } from 'ai-sdk-anthropic-v7';
import type { ThrottleMiddleware } from '../../src/ai-sdk/index';

/** One call of `generateText` or `streamText` against an OpenAI-compatible server. */
export interface SdkCall {
  /** The server's base URL (the simulator's `url`). */
  url: string;
  middleware: ThrottleMiddleware;
  prompt: string;
  maxOutputTokens?: number;
  maxRetries?: number;
  abortSignal?: AbortSignal;
  /** Wrap the provider (`wrapProvider`) instead of the model (`wrapLanguageModel`). */
  viaProvider?: boolean;
  /** Call Anthropic's messages API through `@ai-sdk/anthropic` (its provider wrapped) instead of OpenAI's. */
  anthropic?: boolean;
  /** The provider's `fetch` (e.g. a `throttledFetch`); the global fetch when omitted. */
  fetch?: typeof globalThis.fetch;
  /** Streams only: called with each text delta as it arrives. */
  onText?: (text: string) => void;
}

export interface SdkAnswer {
  text: string;
  /** The usage total the SDK reports for the call. */
  totalTokens: number | undefined;
}

export interface SdkMajor {
  readonly major: 5 | 6 | 7;
  generate(call: SdkCall): Promise<SdkAnswer>;
  /** Reads the whole stream. */
  stream(call: SdkCall): Promise<SdkAnswer>;
}

const MODEL_ID = 'gpt-4o-mini';
const ANTHROPIC_MODEL_ID = 'claude-3-5-haiku-latest';

// The provider's default model is OpenAI's Responses API; the simulator serves chat completions,
// so wrapProvider wraps a custom provider whose model is the chat one.
const sdk5: SdkMajor = {
  major: 5,
  async generate(call) {
    const result = await ai5.generateText({ model: model5(call), ...callSettings(call) });
    return { text: result.text, totalTokens: result.usage.totalTokens };
  },
  async stream(call) {
    const result = ai5.streamText({ model: model5(call), ...callSettings(call) });
    return {
      text: await collect(result.textStream, call.onText),
      totalTokens: (await result.usage).totalTokens,
    };
  },
};

function model5(call: SdkCall): ai5.LanguageModel {
  if (call.anthropic) {
    const anthropic = createAnthropic5({ baseURL: `${call.url}/v1`, apiKey: 'sim' });
    const wrapped = ai5.wrapProvider({ provider: anthropic, languageModelMiddleware: call.middleware });
    return wrapped.languageModel(ANTHROPIC_MODEL_ID);
  }
  const chat = createOpenAI5({ baseURL: `${call.url}/v1`, apiKey: 'sim', ...fetchOf(call) }).chat(MODEL_ID);
  if (!call.viaProvider) return ai5.wrapLanguageModel({ model: chat, middleware: call.middleware });
  const provider = ai5.customProvider({ languageModels: { chat } });
  return ai5.wrapProvider({ provider, languageModelMiddleware: call.middleware }).languageModel('chat');
}

const sdk6: SdkMajor = {
  major: 6,
  async generate(call) {
    const result = await ai6.generateText({ model: model6(call), ...callSettings(call) });
    return { text: result.text, totalTokens: result.usage.totalTokens };
  },
  async stream(call) {
    const result = ai6.streamText({ model: model6(call), ...callSettings(call) });
    return {
      text: await collect(result.textStream, call.onText),
      totalTokens: (await result.usage).totalTokens,
    };
  },
};

function model6(call: SdkCall): ai6.LanguageModel {
  if (call.anthropic) {
    const anthropic = createAnthropic6({ baseURL: `${call.url}/v1`, apiKey: 'sim' });
    const wrapped = ai6.wrapProvider({ provider: anthropic, languageModelMiddleware: call.middleware });
    return wrapped.languageModel(ANTHROPIC_MODEL_ID);
  }
  const chat = createOpenAI6({ baseURL: `${call.url}/v1`, apiKey: 'sim', ...fetchOf(call) }).chat(MODEL_ID);
  if (!call.viaProvider) return ai6.wrapLanguageModel({ model: chat, middleware: call.middleware });
  const provider = ai6.customProvider({ languageModels: { chat } });
  return ai6.wrapProvider({ provider, languageModelMiddleware: call.middleware }).languageModel('chat');
}

const sdk7: SdkMajor = {
  major: 7,
  async generate(call) {
    const result = await ai7.generateText({ model: model7(call), ...callSettings(call) });
    return { text: result.text, totalTokens: result.usage.totalTokens };
  },
  async stream(call) {
    const result = ai7.streamText({ model: model7(call), ...callSettings(call) });
    return {
      text: await collect(result.textStream, call.onText),
      totalTokens: (await result.usage).totalTokens,
    };
  },
};

function model7(call: SdkCall): ai7.LanguageModel {
  if (call.anthropic) {
    const anthropic = createAnthropic7({ baseURL: `${call.url}/v1`, apiKey: 'sim' });
    const wrapped = ai7.wrapProvider({ provider: anthropic, languageModelMiddleware: call.middleware });
    return wrapped.languageModel(ANTHROPIC_MODEL_ID);
  }
  const chat = createOpenAI7({ baseURL: `${call.url}/v1`, apiKey: 'sim', ...fetchOf(call) }).chat(MODEL_ID);
  if (!call.viaProvider) return ai7.wrapLanguageModel({ model: chat, middleware: call.middleware });
  const provider = ai7.customProvider({ languageModels: { chat } });
  return ai7.wrapProvider({ provider, languageModelMiddleware: call.middleware }).languageModel('chat');
}

function callSettings(call: SdkCall) {
  return {
    prompt: call.prompt,
    ...(call.maxOutputTokens === undefined ? {} : { maxOutputTokens: call.maxOutputTokens }),
    ...(call.maxRetries === undefined ? {} : { maxRetries: call.maxRetries }),
    ...(call.abortSignal === undefined ? {} : { abortSignal: call.abortSignal }),
  };
}

async function collect(parts: AsyncIterable<string>, onText?: (text: string) => void): Promise<string> {
  let text = '';
  for await (const part of parts) {
    onText?.(part);
    text += part;
  }
  return text;
}

/** AI SDK 5, 6 and 7. */
export const SDK_MAJORS: readonly SdkMajor[] = [sdk5, sdk6, sdk7];

/** The provider setting for the call's own fetch, if it has one. */
function fetchOf(call: SdkCall): { fetch?: typeof globalThis.fetch } {
  return call.fetch ? { fetch: call.fetch } : {};
}
