import { EventEmitter } from 'eventemitter3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../../src/testing/fake-clock';
import { isTimeoutError, onShutdown, type ShutdownProcess } from '../../src/resilience/index';
import { deferred, flush } from './helpers';

/** Stands in for Node's `process`: signals are emitted by the test, exit is recorded. */
class FakeProcess implements ShutdownProcess {
  private readonly emitter = new EventEmitter();
  readonly exit = vi.fn<(code?: number) => void>();
  on(event: string, listener: (signal: string) => void) {
    this.emitter.on(event, listener);
    return this;
  }
  removeListener(event: string, listener: (signal: string) => void) {
    this.emitter.removeListener(event, listener);
    return this;
  }
  listenerCount(event: string): number {
    return this.emitter.listenerCount(event);
  }
  kill(signal: string): void {
    this.emitter.emit(signal, signal);
  }
}

const uninstalls: (() => void)[] = [];
afterEach(() => {
  for (const u of uninstalls.splice(0)) u();
});

function install(...args: Parameters<typeof onShutdown>) {
  const uninstall = onShutdown(...args);
  uninstalls.push(uninstall);
  return uninstall;
}

describe('onShutdown', () => {
  it('runs the handler with the signal name, then exits with code 0 after it finishes', async () => {
    const proc = new FakeProcess();
    const clock = new FakeClock();
    const drained = deferred();
    const handler = vi.fn(() => drained.promise);
    install(handler, { process: proc, clock });
    proc.kill('SIGTERM');
    await flush();
    expect(handler).toHaveBeenCalledWith('SIGTERM');
    expect(proc.exit).not.toHaveBeenCalled();
    drained.resolve();
    await flush();
    expect(proc.exit).toHaveBeenCalledExactlyOnceWith(0);
    expect(clock.pendingSleeps).toBe(0);
  });

  it('listens to SIGTERM and SIGINT by default, one listener each however many handlers', () => {
    const proc = new FakeProcess();
    install(async () => {}, { process: proc });
    install(async () => {}, { process: proc });
    expect(proc.listenerCount('SIGTERM')).toBe(1);
    expect(proc.listenerCount('SIGINT')).toBe(1);
    expect(proc.listenerCount('SIGHUP')).toBe(0);
  });

  it('runs every handler concurrently and exits once, after the last', async () => {
    const proc = new FakeProcess();
    const clock = new FakeClock();
    const first = deferred();
    const second = deferred();
    install(() => first.promise, { process: proc, clock });
    install(() => second.promise, { process: proc, clock });
    proc.kill('SIGINT');
    await flush();
    second.resolve();
    await flush();
    expect(proc.exit).not.toHaveBeenCalled();
    first.resolve();
    await flush();
    expect(proc.exit).toHaveBeenCalledExactlyOnceWith(0);
  });

  it('reports a failing handler and exits with code 1', async () => {
    const proc = new FakeProcess();
    const onError = vi.fn();
    const error = new Error('drain failed');
    install(() => Promise.reject(error), { process: proc, onError, clock: new FakeClock() });
    proc.kill('SIGTERM');
    await flush();
    expect(onError).toHaveBeenCalledWith(error);
    expect(proc.exit).toHaveBeenCalledExactlyOnceWith(1);
  });

  it('gives up on a handler after timeoutMs and exits with code 1', async () => {
    const proc = new FakeProcess();
    const clock = new FakeClock();
    const onError = vi.fn();
    install(() => new Promise<void>(() => {}), { process: proc, clock, timeoutMs: 5000, onError });
    proc.kill('SIGTERM');
    await clock.advance(4999);
    expect(proc.exit).not.toHaveBeenCalled();
    await clock.advance(1);
    expect(proc.exit).toHaveBeenCalledExactlyOnceWith(1);
    expect(isTimeoutError(onError.mock.calls[0]![0])).toBe(true);
    expect(clock.pendingSleeps).toBe(0);
  });

  it('exits at once with code 1 on a second signal during the shutdown', async () => {
    const proc = new FakeProcess();
    install(() => new Promise<void>(() => {}), { process: proc, clock: new FakeClock() });
    proc.kill('SIGINT');
    await flush();
    expect(proc.exit).not.toHaveBeenCalled();
    proc.kill('SIGINT');
    expect(proc.exit).toHaveBeenCalledExactlyOnceWith(1);
  });

  it('does not exit when exit is false', async () => {
    const proc = new FakeProcess();
    const handler = vi.fn(async () => {});
    install(handler, { process: proc, exit: false });
    proc.kill('SIGTERM');
    await flush();
    expect(handler).toHaveBeenCalled();
    expect(proc.exit).not.toHaveBeenCalled();
  });

  it('only runs handlers registered for the signal received', async () => {
    const proc = new FakeProcess();
    const onUsr2 = vi.fn(async () => {});
    const onTerm = vi.fn(async () => {});
    install(onUsr2, { process: proc, signals: ['SIGUSR2'] });
    install(onTerm, { process: proc, signals: ['SIGTERM'] });
    proc.kill('SIGUSR2');
    await flush();
    expect(onUsr2).toHaveBeenCalledWith('SIGUSR2');
    expect(onTerm).not.toHaveBeenCalled();
  });

  it('uninstall removes the handler, and the listeners once nobody needs them', async () => {
    const proc = new FakeProcess();
    const a = vi.fn(async () => {});
    const b = vi.fn(async () => {});
    const uninstallA = install(a, { process: proc, signals: ['SIGTERM', 'SIGINT'] });
    const uninstallB = install(b, { process: proc, signals: ['SIGTERM'] });
    uninstallA();
    uninstallA(); // idempotent
    expect(proc.listenerCount('SIGINT')).toBe(0);
    expect(proc.listenerCount('SIGTERM')).toBe(1);
    uninstallB();
    expect(proc.listenerCount('SIGTERM')).toBe(0);
    proc.kill('SIGTERM');
    await flush();
    expect(a).not.toHaveBeenCalled();
    expect(b).not.toHaveBeenCalled();
  });

  it('installs on the real process when none is given, and uninstalls cleanly', () => {
    const before = process.listenerCount('SIGUSR2');
    const uninstall = onShutdown(async () => {}, { signals: ['SIGUSR2'] });
    expect(process.listenerCount('SIGUSR2')).toBe(before + 1);
    uninstall();
    expect(process.listenerCount('SIGUSR2')).toBe(before);
    // Node's own process fits the injectable interface.
    const explicit = onShutdown(async () => {}, { signals: ['SIGUSR2'], process });
    expect(process.listenerCount('SIGUSR2')).toBe(before + 1);
    explicit();
    expect(process.listenerCount('SIGUSR2')).toBe(before);
  });

  it('installs nothing where there is no process (browsers)', () => {
    vi.stubGlobal('process', undefined);
    let uninstall: () => void;
    try {
      uninstall = onShutdown(async () => {});
    } finally {
      vi.unstubAllGlobals();
    }
    expect(() => uninstall()).not.toThrow();
  });

  it('rejects bad options with a named error', () => {
    expect(() => onShutdown(async () => {}, { timeoutMs: -1 })).toThrow(
      'timeoutMs must be a positive number, got -1',
    );
    expect(() => onShutdown(async () => {}, { signals: [] })).toThrow('signals must be a non-empty array');
  });
});
