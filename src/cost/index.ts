/**
 * `throttleflow/cost`: token estimates, prices, usage normalisation, context windows and spend budgets.
 * @module throttleflow/cost
 */
export {
  heuristicTokenizer,
  getDefaultTokenizer,
  setDefaultTokenizer,
  setModelTokenizer,
  tokenizerFor,
  type Tokenizer,
} from './tokenizer';
export type { ChatContentPart, ChatMessage, ChatRequestLike } from './chat-messages';
export { estimateTokens, type EstimateTokensOptions } from './estimate-tokens';
export { estimateChatCall, maxOutputTokensOf, type CallEstimate } from './call-spend';
export { DEFAULT_MODEL_PRICES, PRICES_AS_OF, type LongContextPrice, type ModelPrice } from './prices';
export { PriceTable, defaultPriceTable, definePrices, type ResolvedModelPrice } from './price-table';
export { UnknownModelError, isUnknownModelError } from './unknown-model-error';
export {
  normalizeUsage,
  type AnthropicUsage,
  type GeminiUsage,
  type LegacyCamelUsage,
  type NormalizedUsage,
  type OpenAIChatUsage,
  type OpenAIResponsesUsage,
  type TokenCounts,
  type Usage,
  type UsageLike,
} from './usage';
export { costOf } from './cost-of';
export { contextWindowOf, assertFitsContext } from './context-window';
export { ContextLengthError, isContextLengthError } from './context-length-error';
export { Budget, type BudgetCaps, type BudgetOptions, type BudgetStats } from './budget';
export { BudgetReservation, type BudgetReservationState } from './budget-reservation';
export {
  BudgetExceededError,
  isBudgetExceededError,
  type BudgetDimension,
  type BudgetExceededDetails,
  type BudgetPeriod,
} from './budget-exceeded-error';
export type { ModelSpend, Spend, SpendAmounts } from './spend';
