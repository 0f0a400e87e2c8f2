import { describe, expect, it } from 'vitest';
import { isFailureBeforeCounting } from '../../src/providers/failed-before-counting';

const withCode = (code: string) => Object.assign(new Error('connection'), { code });

describe('isFailureBeforeCounting', () => {
  it('takes 5xx statuses but 504, in every error shape', () => {
    for (const status of [500, 502, 503, 529]) {
      expect(isFailureBeforeCounting(Object.assign(new Error('sdk'), { status }))).toBe(true);
      expect(isFailureBeforeCounting(Object.assign(new Error('ai sdk'), { statusCode: status }))).toBe(true);
      expect(isFailureBeforeCounting({ status, ok: false, headers: {} })).toBe(true);
      expect(isFailureBeforeCounting(Object.assign(new Error('axios'), { response: { status } }))).toBe(true);
    }
    for (const status of [504, 400, 401, 408, 429, 200]) {
      expect(isFailureBeforeCounting(Object.assign(new Error('sdk'), { status }))).toBe(false);
    }
  });

  it('takes refused and dropped connections, also inside cause', () => {
    expect(isFailureBeforeCounting(withCode('ECONNRESET'))).toBe(true);
    expect(isFailureBeforeCounting(withCode('ECONNREFUSED'))).toBe(true);
    // fetch's `TypeError: fetch failed` keeps undici's socket error as its cause.
    expect(
      isFailureBeforeCounting(new TypeError('fetch failed', { cause: withCode('UND_ERR_SOCKET') })),
    ).toBe(true);
    // openai-node's APIConnectionError: no status, the reason in cause.
    const wrapped = new Error('Connection error.', {
      cause: new TypeError('fetch failed', { cause: withCode('ECONNRESET') }),
    });
    expect(isFailureBeforeCounting(wrapped)).toBe(true);
  });

  it('leaves out timeouts, cancellations, plain errors and what the caller threw', () => {
    expect(isFailureBeforeCounting(withCode('ETIMEDOUT'))).toBe(false);
    expect(isFailureBeforeCounting(Object.assign(new Error('aborted'), { name: 'AbortError' }))).toBe(false);
    expect(isFailureBeforeCounting(new Error('socket hang up'))).toBe(false);
    expect(isFailureBeforeCounting(new SyntaxError('model output is not JSON'))).toBe(false);
    expect(isFailureBeforeCounting(undefined)).toBe(false);
    expect(isFailureBeforeCounting('ECONNRESET')).toBe(false);
    // Deeper than three wrappers: not followed.
    let deep: unknown = withCode('ECONNRESET');
    for (let i = 0; i < 4; i++) deep = new Error('wrapped', { cause: deep });
    expect(isFailureBeforeCounting(deep)).toBe(false);
  });
});
