import { describe, expect, it } from 'vitest';
import { isAbortError } from '../../src/errors/abort-error';
import { isLimitExceededError, LimitExceededError } from '../../src/errors/limit-exceeded-error';
import { isLimiterTimeoutError, LimiterTimeoutError } from '../../src/errors/limiter-timeout-error';
import { isQueueFullError, QueueFullError } from '../../src/errors/queue-full-error';
import { isShutdownError, ShutdownError } from '../../src/errors/shutdown-error';

const errors = [
  { error: new LimiterTimeoutError('api', 250), guard: isLimiterTimeoutError, name: 'LimiterTimeoutError', code: 'LIMITER_TIMEOUT', message: "Limiter 'api': no room within 250 ms" },
  {
    error: new LimitExceededError('api', 'tokens', 5000, 1000, 60_000),
    guard: isLimitExceededError,
    name: 'LimitExceededError',
    code: 'LIMIT_EXCEEDED',
    message: "Limiter 'api': a cost of 5000 tokens can never fit a window of 1000 tokens per 60000 ms",
  },
  { error: new ShutdownError('api'), guard: isShutdownError, name: 'ShutdownError', code: 'SHUTDOWN', message: "Limiter 'api' accepts no new work: it is draining" },
  { error: new QueueFullError('api', 10), guard: isQueueFullError, name: 'QueueFullError', code: 'QUEUE_FULL', message: "Limiter 'api': 10 acquires already wait (maxQueued), refusing another" },
];

describe('limiter errors', () => {
  it.each(errors)('$name has a stable name, code and message, and a guard', ({ error, guard, name, code, message }) => {
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe(name);
    expect(error.code).toBe(code);
    expect(error.message).toBe(message);
    expect(guard(error)).toBe(true);
    expect(String(error)).toBe(`${name}: ${message}`);
  });

  it('each guard accepts only its own class', () => {
    for (const { guard, error: own } of errors) {
      for (const { error } of errors) expect(guard(error)).toBe(error === own);
      expect(guard(new Error('x'))).toBe(false);
      expect(guard(undefined)).toBe(false);
      expect(guard({ name: own.name, code: own.code })).toBe(false);
    }
  });

  it('guards recognise instances from another copy of the library (same Symbol.for brand)', () => {
    for (const { error, guard } of errors) {
      const foreign = Object.create(Error.prototype) as Error;
      Object.defineProperty(foreign, Symbol.for(`throttleflow.${error.name}`), { value: true });
      expect(guard(foreign)).toBe(true);
    }
  });

  it('keeps the brand out of JSON', () => {
    expect(Object.keys(new ShutdownError('x'))).not.toContain(String(Symbol.for('throttleflow.ShutdownError')));
    expect(JSON.parse(JSON.stringify(new QueueFullError('q', 1)))).toEqual({ limiter: 'q', maxQueued: 1, name: 'QueueFullError', code: 'QUEUE_FULL' });
  });

  it('isAbortError recognises the platform AbortError and any error named so', () => {
    expect(isAbortError(new DOMException('stop', 'AbortError'))).toBe(true);
    const controller = new AbortController();
    controller.abort();
    expect(isAbortError(controller.signal.reason)).toBe(true);
    expect(isAbortError(Object.assign(new Error('x'), { name: 'AbortError' }))).toBe(true);
    expect(isAbortError(new DOMException('t', 'TimeoutError'))).toBe(false);
    expect(isAbortError('AbortError')).toBe(false);
  });
});
