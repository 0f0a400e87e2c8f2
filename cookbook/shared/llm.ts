/**
 * A small LLM client for the cookbook examples.
 *
 * - Against the provider simulator (the default) it speaks plain HTTP with `fetch`: OpenAI-style
 *   `POST /v1/chat/completions` or Anthropic-style `POST /v1/messages`.
 * - Against the real API (when `OPENAI_API_KEY` / `ANTHROPIC_API_KEY` is set and the example was
 *   not told to simulate) it loads the official SDK on demand (`openai`, `@anthropic-ai/sdk`: dev /
 *   optional dependencies, imported only in that case) with the SDK's own retries off.
 *
 * Either way a failed call rejects with an error that carries `status` and `headers` (an
 * {@link LlmError}, or the SDK's own `APIError`), which is all throttleflow needs to recognise a
 * 429 / 529 and its retry-after. The client also counts what it saw, so an example can print how
 * many 429s reached it and how many calls were ever in flight at once.
 */
import { detectRateLimit } from '../../src/providers/index';

/** The two wire formats the simulator (and the real providers) speak. */
export type Dialect = 'openai' | 'anthropic';

/** Where calls go: the simulator, or a real provider. */
export type LlmTarget = 'simulator' | 'openai' | 'anthropic';

/** One completion, normalised across dialects. */
export interface LlmReply {
  text: string;
  /** Token usage in the OpenAI shape, so throttleflow's default `usageOf` reconciles token windows. */
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  /** Response headers (rate-limit budgets); empty for SDK calls. */
  headers: Headers;
}

/** Options of one call. */
export interface CompleteOptions {
  /** Output token cap. @default the client's maxTokens */
  maxTokens?: number;
  /** A system prompt. */
  system?: string;
  /** Cancels the HTTP request. */
  signal?: AbortSignal;
}

/** An HTTP error from the provider: `status` and `headers` are what rate-limit detection reads. */
export class LlmError extends Error {
  override readonly name = 'LlmError';
  constructor(
    readonly status: number,
    readonly headers: Headers,
    readonly body: unknown,
  ) {
    super(`LLM call failed with HTTP ${status}${describeBody(body)}`);
  }
}

/** What the client saw, for the examples' reports. */
export interface LlmCounters {
  /** Calls started. */
  calls: number;
  /** Calls answered 200. */
  succeeded: number;
  /** 429s received. */
  rateLimited: number;
  /** 529s (overloaded) received. */
  overloaded: number;
  /** Other failures (5xx, resets, timeouts). */
  failed: number;
  /** Calls in flight right now. */
  inFlight: number;
  /** The most calls ever in flight at once. */
  maxInFlight: number;
  /** Tokens reported in `usage`. */
  tokens: number;
}

/** Options of {@link createLlm}. */
export interface LlmOptions {
  /** The wire format. @default 'openai' */
  dialect?: Dialect;
  /** Base URL of a simulator (e.g. `sim.url`); omit to call the real provider of `dialect`. */
  baseUrl?: string;
  /** Model name sent with each call. @default gpt-4o-mini / claude-3-5-haiku-latest, or OPENAI_MODEL / ANTHROPIC_MODEL */
  model?: string;
  /** Default output token cap. @default 60 */
  maxTokens?: number;
  /** Names the client in reports. @default the dialect */
  name?: string;
}

const DEFAULT_MODELS: Record<Dialect, string> = {
  openai: 'gpt-4o-mini',
  anthropic: 'claude-3-5-haiku-latest',
};
const API_KEYS: Record<Dialect, string> = { openai: 'OPENAI_API_KEY', anthropic: 'ANTHROPIC_API_KEY' };

/** Whether the environment holds a real API key for `dialect`. */
export function hasApiKey(dialect: Dialect): boolean {
  return Boolean(process.env[API_KEYS[dialect]]);
}

/** A client for one provider (simulated or real). */
export class Llm {
  readonly name: string;
  readonly dialect: Dialect;
  readonly target: LlmTarget;
  readonly model: string;
  readonly counters: LlmCounters = {
    calls: 0,
    succeeded: 0,
    rateLimited: 0,
    overloaded: 0,
    failed: 0,
    inFlight: 0,
    maxInFlight: 0,
    tokens: 0,
  };
  private readonly maxTokens: number;
  private readonly baseUrl: string | undefined;
  private sdk: Promise<SdkCall> | undefined;

  constructor(options: LlmOptions = {}) {
    this.dialect = options.dialect ?? 'openai';
    this.baseUrl = options.baseUrl?.replace(/\/+$/, '');
    this.target = this.baseUrl ? 'simulator' : this.dialect;
    this.name = options.name ?? this.dialect;
    const envModel = process.env[this.dialect === 'openai' ? 'OPENAI_MODEL' : 'ANTHROPIC_MODEL'];
    this.model = options.model ?? envModel ?? DEFAULT_MODELS[this.dialect];
    this.maxTokens = options.maxTokens ?? 60;
  }

  /** Sends one prompt; resolves to the reply or rejects with an error carrying `status` and `headers`. */
  complete(prompt: string, options: CompleteOptions = {}): Promise<LlmReply> {
    return this.track(async () => {
      const reply = this.baseUrl
        ? await this.viaFetch(this.baseUrl, prompt, options)
        : await (
            await this.loadSdk()
          )(prompt, options);
      this.counters.tokens += reply.usage.total_tokens;
      return reply;
    });
  }

  /**
   * Counts any call to this provider (an SDK call, say) in {@link counters}: calls, successes,
   * 429s and 529s (as throttleflow detects them), and the most in flight at once.
   */
  async track<T>(call: () => Promise<T>): Promise<T> {
    const c = this.counters;
    c.calls++;
    c.inFlight++;
    c.maxInFlight = Math.max(c.maxInFlight, c.inFlight);
    try {
      const result = await call();
      c.succeeded++;
      return result;
    } catch (error) {
      const signal = detectRateLimit(error);
      if (signal?.kind === 'overloaded') c.overloaded++;
      else if (signal) c.rateLimited++;
      else c.failed++;
      throw error;
    } finally {
      c.inFlight--;
    }
  }

  /** The request body the simulator (and the providers) take. */
  body(prompt: string, options: CompleteOptions = {}): Record<string, unknown> {
    const maxTokens = options.maxTokens ?? this.maxTokens;
    const messages = [{ role: 'user', content: prompt }];
    if (this.dialect === 'anthropic') {
      return {
        model: this.model,
        max_tokens: maxTokens,
        messages,
        ...(options.system ? { system: options.system } : {}),
      };
    }
    return {
      model: this.model,
      max_tokens: maxTokens,
      messages: options.system ? [{ role: 'system', content: options.system }, ...messages] : messages,
    };
  }

  /**
   * Tokens the provider charges a call up front: prompt characters / 4 plus `max_tokens` (the
   * simulator's rule, and a fair estimate for the real APIs). Use it as a node's `tokensFor`.
   */
  estimateTokens(prompt: string, options: CompleteOptions = {}): number {
    const chars = prompt.length + (options.system?.length ?? 0);
    return Math.ceil(chars / 4) + (options.maxTokens ?? this.maxTokens);
  }

  private async viaFetch(baseUrl: string, prompt: string, options: CompleteOptions): Promise<LlmReply> {
    const path = this.dialect === 'anthropic' ? '/v1/messages' : '/v1/chat/completions';
    const response = await fetch(`${baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(this.body(prompt, options)),
      signal: options.signal,
    });
    const raw = await response.text();
    let json: unknown = raw;
    try {
      json = JSON.parse(raw);
    } catch {
      // not JSON: keep the text for the error message
    }
    if (!response.ok) throw new LlmError(response.status, response.headers, json);
    return { ...normalise(this.dialect, json), headers: response.headers };
  }

  private loadSdk(): Promise<SdkCall> {
    this.sdk ??= this.dialect === 'anthropic' ? anthropicSdk(this) : openaiSdk(this);
    return this.sdk;
  }
}

/** A client for `dialect`: the simulator at `baseUrl`, else the real provider. */
export function createLlm(options: LlmOptions = {}): Llm {
  return new Llm(options);
}

type SdkCall = (prompt: string, options: CompleteOptions) => Promise<LlmReply>;

/** The real OpenAI API through the `openai` SDK, retries off (throttleflow handles 429s). */
async function openaiSdk(llm: Llm): Promise<SdkCall> {
  const { default: OpenAI } = await import('openai');
  const client = new OpenAI({ maxRetries: 0 });
  return async (prompt, options) => {
    const body = llm.body(prompt, options) as unknown as Parameters<typeof client.chat.completions.create>[0];
    const completion = await client.chat.completions.create(
      { ...body, stream: false },
      { signal: options.signal },
    );
    return { ...normalise('openai', completion), headers: new Headers() };
  };
}

/** The real Anthropic API through `@anthropic-ai/sdk`, retries off. */
async function anthropicSdk(llm: Llm): Promise<SdkCall> {
  const { default: Anthropic } = await import('@anthropic-ai/sdk');
  const client = new Anthropic({ maxRetries: 0 });
  return async (prompt, options) => {
    const body = llm.body(prompt, options) as unknown as Parameters<typeof client.messages.create>[0];
    const message = await client.messages.create({ ...body, stream: false }, { signal: options.signal });
    return { ...normalise('anthropic', message), headers: new Headers() };
  };
}

/** Text and OpenAI-shaped usage from either dialect's response body. */
function normalise(dialect: Dialect, json: unknown): Omit<LlmReply, 'headers'> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a provider's reply body, read field by field below
  const body = (typeof json === 'object' && json !== null ? json : {}) as Record<string, any>;
  if (dialect === 'anthropic') {
    const parts: unknown[] = Array.isArray(body.content) ? body.content : [];
    const text = parts
      .map((p) => (typeof p === 'object' && p !== null && 'text' in p ? String(p.text) : ''))
      .join('');
    const input = Number(body.usage?.input_tokens ?? 0);
    const output = Number(body.usage?.output_tokens ?? 0);
    return { text, usage: { prompt_tokens: input, completion_tokens: output, total_tokens: input + output } };
  }
  const text = String(body.choices?.[0]?.message?.content ?? '');
  const prompt = Number(body.usage?.prompt_tokens ?? 0);
  const completion = Number(body.usage?.completion_tokens ?? 0);
  return {
    text,
    usage: {
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: Number(body.usage?.total_tokens ?? prompt + completion),
    },
  };
}

function describeBody(body: unknown): string {
  if (typeof body !== 'object' || body === null) return '';
  const error = (body as { error?: { message?: unknown } }).error;
  return typeof error?.message === 'string' ? `: ${error.message}` : '';
}
