/**
 * `throttleflow/ai-sdk`: a Vercel AI SDK (5, 6 and 7) language-model middleware that sends every
 * model call, retries included, through a limiter.
 * @module throttleflow/ai-sdk
 */
export {
  throttleMiddleware,
  type ThrottleMiddleware,
  type ThrottleMiddlewareOptions,
} from './throttle-middleware';
export type {
  AiSdkCallOptions,
  AiSdkGenerateResult,
  AiSdkGenerateWrapOptions,
  AiSdkModel,
  AiSdkPromptMessage,
  AiSdkPromptPart,
  AiSdkResponseInfo,
  AiSdkStreamResult,
  AiSdkStreamWrapOptions,
  AiSdkTokenCount,
  AiSdkUsage,
  AiSdkWrapOptions,
} from './ai-sdk-shapes';
