/**
 * The parts of the Vercel AI SDK's language-model middleware contract the throttle middleware
 * reads, typed structurally so that one middleware object fits AI SDK 5 (`LanguageModelV2`),
 * 6 (`LanguageModelV3`) and 7 (`LanguageModelV4`) without importing any of them.
 */

/** A part of a prompt message: `{ type: 'text', text }`, a file, a tool call or a tool result. */
export interface AiSdkPromptPart {
  readonly type: string;
}

/** A message of the SDK's provider-level prompt (`params.prompt`): system text, or parts. */
export interface AiSdkPromptMessage {
  readonly role: string;
  readonly content: string | readonly AiSdkPromptPart[];
}

/** The call options a middleware receives (`params`), as far as the estimate reads them. */
export interface AiSdkCallOptions {
  /** The standardised prompt: the messages the provider will be sent. */
  readonly prompt: readonly AiSdkPromptMessage[];
  /** The output bound the caller set (`maxOutputTokens` of `generateText` / `streamText`). */
  readonly maxOutputTokens?: number | undefined;
  /** The caller's abort signal; it also ends a wait for the limiter. */
  readonly abortSignal?: AbortSignal | undefined;
  /** Tool definitions; their names, descriptions and schemas reach the model as prompt tokens. */
  readonly tools?: readonly unknown[] | undefined;
}

/** The model a middleware wraps, as far as the middleware reads it. */
export interface AiSdkModel {
  readonly provider: string;
  readonly modelId: string;
}

/**
 * A token count of the SDK's usage: AI SDK 5 reports plain numbers, 6 and 7 objects with a
 * `total` (and its parts).
 */
export type AiSdkTokenCount = number | { readonly total?: number | undefined } | undefined;

/** Usage of a call: flat in AI SDK 5, nested in 6 and 7. */
export interface AiSdkUsage {
  readonly inputTokens?: AiSdkTokenCount;
  readonly outputTokens?: AiSdkTokenCount;
  /** Stated by AI SDK 5 only. */
  readonly totalTokens?: number | undefined;
}

/** Response metadata with the HTTP headers of the provider's answer. */
export interface AiSdkResponseInfo {
  readonly headers?: Readonly<Record<string, string | undefined>> | undefined;
}

/** What `doGenerate` resolves to, as far as the middleware reads it. */
export interface AiSdkGenerateResult {
  readonly usage?: AiSdkUsage | undefined;
  readonly response?: AiSdkResponseInfo | undefined;
}

/** What `doStream` resolves to: the stream of parts, and the response headers. */
export interface AiSdkStreamResult {
  readonly stream: ReadableStream<unknown>;
  readonly response?: AiSdkResponseInfo | undefined;
}

/** The argument of a middleware's `wrapGenerate` / `wrapStream`. */
export interface AiSdkWrapOptions {
  readonly doGenerate: () => PromiseLike<unknown>;
  readonly doStream: () => PromiseLike<unknown>;
  readonly params: AiSdkCallOptions;
  readonly model: AiSdkModel;
}

/** The argument of `wrapGenerate`: `doGenerate` resolves to the result the middleware hands back. */
export interface AiSdkGenerateWrapOptions<R extends AiSdkGenerateResult> extends AiSdkWrapOptions {
  readonly doGenerate: () => PromiseLike<R>;
}

/** The argument of `wrapStream`: `doStream` resolves to the result the middleware hands back. */
export interface AiSdkStreamWrapOptions<R extends AiSdkStreamResult> extends AiSdkWrapOptions {
  readonly doStream: () => PromiseLike<R>;
}
