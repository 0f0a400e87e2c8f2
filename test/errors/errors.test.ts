import { describe, expect, it } from 'vitest';
import * as root from '../../src/index';
import { BudgetExceededError, isBudgetExceededError } from '../../src/cost/budget-exceeded-error';
import { ContextLengthError, isContextLengthError } from '../../src/cost/context-length-error';
import { isUnknownModelError, UnknownModelError } from '../../src/cost/unknown-model-error';
import { isAbortError } from '../../src/errors/abort-error';
import { BatchFlowError, isBatchFlowError } from '../../src/errors/batch-flow-error';
import { isLimitExceededError, LimitExceededError } from '../../src/errors/limit-exceeded-error';
import { isLimiterTimeoutError, LimiterTimeoutError } from '../../src/errors/limiter-timeout-error';
import { isQueueFullError, QueueFullError } from '../../src/errors/queue-full-error';
import { isQuotaExhaustedError, QuotaExhaustedError } from '../../src/errors/quota-exhausted-error';
import { isRateLimitHit, RateLimitHit } from '../../src/errors/rate-limit-hit';
import { isShutdownError, ShutdownError } from '../../src/errors/shutdown-error';
import {
  isThrottleflowError,
  ThrottleflowError,
  type ThrottleflowErrorCode,
} from '../../src/errors/throttleflow-error';
import { detectRateLimit } from '../../src/providers/detect-rate-limit';
import { BrokenCircuitError, isBrokenCircuitError } from '../../src/resilience/broken-circuit-error';
import { isTimeoutError, TimeoutError } from '../../src/resilience/timeout-error';
import { FallbackExhaustedError, isFallbackExhaustedError } from '../../src/routing/fallback-exhausted-error';
import {
  isStoreUnavailableError,
  StoreUnavailableError,
} from '../../src/stores/redis/store-unavailable-error';
import { isProviderHttpError, ProviderHttpError } from '../../src/testing/simulator-client';
import { InvalidOptionError, isInvalidOptionError } from '../../src/validation/options';

interface Case {
  name: string;
  code: ThrottleflowErrorCode;
  make: () => Error;
  guard: (error: unknown) => boolean;
  /** The built-in it extends, where that says more than `Error`. */
  builtIn: ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor | AggregateErrorConstructor;
  message?: string;
}

// Every throttleflow error class, one instance each.
const cases: Case[] = [
  {
    name: 'RateLimitHit',
    code: 'RATE_LIMIT_HIT',
    make: () => new RateLimitHit('slow down', 2000, 'api'),
    guard: isRateLimitHit,
    builtIn: Error,
  },
  {
    name: 'QuotaExhaustedError',
    code: 'QUOTA_EXHAUSTED',
    make: () => new QuotaExhaustedError(undefined, { source: 'google' }),
    guard: isQuotaExhaustedError,
    builtIn: Error,
  },
  {
    name: 'LimiterTimeoutError',
    code: 'LIMITER_TIMEOUT',
    make: () => new LimiterTimeoutError('api', 250),
    guard: isLimiterTimeoutError,
    builtIn: Error,
    message: "Limiter 'api': no room within 250 ms",
  },
  {
    name: 'LimitExceededError',
    code: 'LIMIT_EXCEEDED',
    make: () => new LimitExceededError('api', 'tokens', 5000, 1000, 60_000),
    guard: isLimitExceededError,
    builtIn: RangeError,
    message: "Limiter 'api': a cost of 5000 tokens can never fit a window of 1000 tokens per 60000 ms",
  },
  {
    name: 'ShutdownError',
    code: 'SHUTDOWN',
    make: () => new ShutdownError('api'),
    guard: isShutdownError,
    builtIn: Error,
    message: "Limiter 'api' accepts no new work: it is draining",
  },
  {
    name: 'QueueFullError',
    code: 'QUEUE_FULL',
    make: () => new QueueFullError('api', 10),
    guard: isQueueFullError,
    builtIn: Error,
    message: "Limiter 'api': 10 acquires already wait (maxQueued), refusing another",
  },
  {
    name: 'BatchFlowError',
    code: 'BATCH_FLOW_FAILED',
    make: () => new BatchFlowError('Flow', 3, [{ index: 1, params: { id: 1 }, error: new Error('boom') }]),
    guard: isBatchFlowError,
    builtIn: AggregateError,
    message: 'Flow: 1 of 3 sub-flows failed; first: #1 Error: boom',
  },
  {
    name: 'InvalidOptionError',
    code: 'INVALID_OPTION',
    make: () => new InvalidOptionError('maxPerMinute', 'maxPerMinute must be a positive integer, got -3'),
    guard: isInvalidOptionError,
    builtIn: TypeError,
    message: 'maxPerMinute must be a positive integer, got -3',
  },
  {
    name: 'BrokenCircuitError',
    code: 'CIRCUIT_OPEN',
    make: () => new BrokenCircuitError('openai', { retryAfterMs: 500 }),
    guard: isBrokenCircuitError,
    builtIn: Error,
  },
  {
    name: 'TimeoutError',
    code: 'TIMEOUT',
    make: () => new TimeoutError(5),
    guard: isTimeoutError,
    builtIn: Error,
    message: 'Operation timed out after 5 ms',
  },
  {
    name: 'FallbackExhaustedError',
    code: 'FALLBACK_EXHAUSTED',
    make: () => new FallbackExhaustedError('chain', [{ target: 'a', error: new Error('down') }]),
    guard: isFallbackExhaustedError,
    builtIn: AggregateError,
    message: "Fallback chain 'chain': no target served the call (a: Error: down)",
  },
  {
    name: 'BudgetExceededError',
    code: 'BUDGET_EXCEEDED',
    make: () =>
      new BudgetExceededError({
        dimension: 'tokens',
        spent: 90,
        reserved: 0,
        estimated: 20,
        cap: 100,
        period: 'run',
      }),
    guard: isBudgetExceededError,
    builtIn: Error,
  },
  {
    name: 'ContextLengthError',
    code: 'CONTEXT_LENGTH',
    make: () =>
      new ContextLengthError({
        model: 'm',
        promptTokens: 10,
        maxOutputTokens: 5,
        contextWindowTokens: 12,
        limitTokens: 12,
        excessTokens: 3,
        message: 'too long',
      }),
    guard: isContextLengthError,
    builtIn: RangeError,
    message: 'too long',
  },
  {
    name: 'UnknownModelError',
    code: 'UNKNOWN_MODEL',
    make: () => new UnknownModelError('gpt-9', ['gpt-4o']),
    guard: isUnknownModelError,
    builtIn: Error,
  },
  {
    name: 'StoreUnavailableError',
    code: 'STORE_UNAVAILABLE',
    make: () =>
      new StoreUnavailableError({
        address: '127.0.0.1:6379',
        operation: 'acquire',
        cause: new Error('ECONNREFUSED'),
      }),
    guard: isStoreUnavailableError,
    builtIn: Error,
    message: 'Redis store at 127.0.0.1:6379 unavailable during acquire: ECONNREFUSED',
  },
  {
    name: 'ProviderHttpError',
    code: 'PROVIDER_HTTP',
    make: () => new ProviderHttpError(500, new Headers(), { error: 'boom' }),
    guard: isProviderHttpError,
    builtIn: Error,
    message: 'Provider answered HTTP 500',
  },
];

/** What another copy of throttleflow produces: its own prototype chain, the same registered symbol. */
function foreignCopy(name: string, code: string): Error {
  const error = new Error('from another copy');
  error.name = name;
  Object.defineProperty(error, Symbol.for('throttleflow.error'), { value: code });
  return Object.assign(error, { code });
}

describe('throttleflow errors: one shape', () => {
  it('covers every code exactly once', () => {
    expect(new Set(cases.map((c) => c.code)).size).toBe(cases.length);
  });

  it.each(cases)(
    '$name has code $code, its name, its message and its built-in',
    ({ name, code, make, builtIn, message }) => {
      const error = make();
      expect(error.name).toBe(name);
      expect((error as ThrottleflowError).code).toBe(code);
      expect(error).toBeInstanceOf(Error);
      expect(error).toBeInstanceOf(builtIn);
      if (message !== undefined) expect(error.message).toBe(message);
      expect(String(error)).toBe(`${name}: ${error.message}`);
    },
  );

  it.each(cases)(
    '$name is a ThrottleflowError by instanceof and by isThrottleflowError',
    ({ make, code }) => {
      const error = make();
      expect(error).toBeInstanceOf(ThrottleflowError);
      expect(isThrottleflowError(error)).toBe(true);
      expect(isThrottleflowError(error, code)).toBe(true);
      for (const other of cases)
        if (other.code !== code) expect(isThrottleflowError(error, other.code)).toBe(false);
    },
  );

  it.each(cases)('isXxx for $name accepts it and nothing else', ({ guard, code }) => {
    for (const other of cases) expect(guard(other.make())).toBe(other.code === code);
    expect(guard(new Error('plain'))).toBe(false);
    expect(guard(new TypeError('plain'))).toBe(false);
    expect(guard(undefined)).toBe(false);
    expect(guard(null)).toBe(false);
    expect(guard(code)).toBe(false);
  });

  it.each(cases)(
    'the guard for $name recognises an error from a structurally separate copy',
    ({ name, code, guard }) => {
      const foreign = foreignCopy(name, code);
      expect(guard(foreign)).toBe(true);
      expect(isThrottleflowError(foreign, code)).toBe(true);
      expect(foreign).toBeInstanceOf(ThrottleflowError);
      // A copy's brand with another code is not this class.
      const otherCode = cases.find((c) => c.code !== code)!.code;
      expect(guard(foreignCopy(name, otherCode))).toBe(false);
    },
  );

  it.each(cases)('a look-alike of $name without the brand is not recognised', ({ name, code, guard }) => {
    const lookAlike = Object.assign(new Error('x'), { name, code });
    expect(guard(lookAlike)).toBe(false);
    expect(isThrottleflowError(lookAlike)).toBe(false);
    expect(lookAlike).not.toBeInstanceOf(ThrottleflowError);
  });

  it('instanceof a concrete class stays the prototype check (use the guard across copies)', () => {
    expect(new ShutdownError('x')).not.toBeInstanceOf(QueueFullError);
    expect(new InvalidOptionError('a', 'b')).not.toBeInstanceOf(RateLimitHit);
    expect(foreignCopy('QueueFullError', 'QUEUE_FULL')).not.toBeInstanceOf(QueueFullError);
    expect(new QueueFullError('q', 1)).toBeInstanceOf(QueueFullError);
    expect({}).not.toBeInstanceOf(ThrottleflowError);
    expect(null).not.toBeInstanceOf(ThrottleflowError);
  });

  it('keeps the brand out of JSON and enumeration; code and name are plain fields', () => {
    const error = new QueueFullError('q', 1);
    expect(Object.getOwnPropertySymbols(error)).toEqual([Symbol.for('throttleflow.error')]);
    expect(Object.keys(error)).not.toContain(String(Symbol.for('throttleflow.error')));
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      limiter: 'q',
      maxQueued: 1,
      name: 'QueueFullError',
      code: 'QUEUE_FULL',
    });
    expect(JSON.parse(JSON.stringify(new RateLimitHit('x', { retryAfterMs: 1 })))).toEqual({
      name: 'RateLimitHit',
      code: 'RATE_LIMIT_HIT',
      retryAfterMs: 1,
      kind: 'rate_limit',
    });
  });

  it('keeps causes and AggregateError errors', () => {
    const cause = new Error('429');
    expect(new RateLimitHit('x', { cause }).cause).toBe(cause);
    expect(new QuotaExhaustedError('x', { cause }).cause).toBe(cause);
    expect('cause' in new RateLimitHit('x')).toBe(false);
    const down = new Error('down');
    expect(new FallbackExhaustedError('c', [{ target: 'a', error: down }]).errors).toEqual([down]);
  });

  it('a throttleflow code never reads as a provider error code in rate-limit detection', () => {
    const signal = detectRateLimit(new ProviderHttpError(429, new Headers(), {}));
    expect(signal).toMatchObject({ kind: 'rate_limit', status: 429, source: 'unknown' });
    expect(signal?.code).toBeUndefined();
  });

  it('isThrottleflowError narrows to the code', () => {
    const error: unknown = new QueueFullError('q', 1);
    if (!isThrottleflowError(error, 'QUEUE_FULL')) throw new Error('not narrowed');
    const code: 'QUEUE_FULL' = error.code;
    expect(code).toBe('QUEUE_FULL');
  });

  it('the root exports ThrottleflowError and isThrottleflowError', () => {
    expect(root.ThrottleflowError).toBe(ThrottleflowError);
    expect(root.isThrottleflowError).toBe(isThrottleflowError);
  });
});

describe('isAbortError', () => {
  it('recognises the platform AbortError and any error named so', () => {
    expect(isAbortError(new DOMException('stop', 'AbortError'))).toBe(true);
    const controller = new AbortController();
    controller.abort();
    expect(isAbortError(controller.signal.reason)).toBe(true);
    expect(isAbortError(Object.assign(new Error('x'), { name: 'AbortError' }))).toBe(true);
    expect(isAbortError(new DOMException('t', 'TimeoutError'))).toBe(false);
    expect(isAbortError('AbortError')).toBe(false);
  });
});
