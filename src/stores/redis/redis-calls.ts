import { ConnectionWatch } from './connection-watch';
import { ScriptRunner, type RedisClient, type ScriptArg } from './script-runner';
import { luaScripts } from './scripts.generated';
import { isStoreUnavailableError, StoreUnavailableError } from './store-unavailable-error';

/** The name of one of the store's Lua scripts. */
export type ScriptName = keyof typeof luaScripts;

/** Error names/replies that mean "Redis cannot serve us right now" rather than "our script is wrong". */
const UNAVAILABLE_REPLY =
  /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY|NOREPLICAS|NOAUTH|WRONGPASS)\b/;

/** True when `error` comes from the connection (refused, closed, timed out, retries exhausted). */
export function isUnavailableError(error: unknown): boolean {
  if (!(error instanceof Error)) return true;
  if (error.name === 'ReplyError') return UNAVAILABLE_REPLY.test(error.message);
  return true;
}

/** Options of {@link RedisCalls}. */
export interface RedisCallsOptions {
  client: RedisClient;
  /** For error messages. */
  address: string;
  /** The most one call waits, for the connection and for the reply together. */
  operationTimeoutMs: number;
  /** How long after losing a working connection calls wait for ioredis to reconnect before failing. */
  reconnectGraceMs: number;
}

/**
 * Every Redis round trip of the store: a script by SHA (NOSCRIPT healed by the runner) or a plain
 * command, bounded by the operation timeout, with a dead or silent connection turned into
 * {@link StoreUnavailableError} so callers (and the local fallback) can tell it from a bug.
 *
 * A call is sent only while the client is ready. Otherwise it waits for the connection, and fails
 * as soon as the client reports that connecting failed (refused, reset, unknown host, bad
 * password), instead of sitting in ioredis's offline queue until the timeout — and without being
 * left in that queue to run later, after its caller was told it failed.
 */
export class RedisCalls {
  readonly scripts: ScriptRunner<ScriptName>;
  /** Undefined once closed: calls then go straight to the client. */
  private watch: ConnectionWatch | undefined;

  constructor(private readonly options: RedisCallsOptions) {
    this.scripts = new ScriptRunner(options.client, luaScripts);
    this.watch = ConnectionWatch.acquire(options.client);
  }

  /** Runs script `name` (one round trip). */
  script(name: ScriptName, keys: string[], args: ScriptArg[]): Promise<unknown> {
    return this.command(name, () => this.scripts.run(name, keys, args));
  }

  /** Runs one Redis round trip, turning a dead or silent connection into {@link StoreUnavailableError}. */
  async command<T>(operation: string, send: () => Promise<T>): Promise<T> {
    try {
      return await this.attempt(operation, send);
    } catch (error) {
      if (!isStoreUnavailableError(error) && isUnavailableError(error)) {
        throw new StoreUnavailableError({ address: this.options.address, operation, cause: error });
      }
      throw error;
    }
  }

  /** Stops watching the client's connection (the client stays open: it is the user's). */
  close(): void {
    this.watch?.release();
    this.watch = undefined;
  }

  /**
   * Sends once the client is ready and settles with the reply; rejects when the client reports a
   * failed connection first (also while the call is in flight: ioredis would resend it after a
   * reconnect that may never come), or when `operationTimeoutMs` passes.
   */
  private attempt<T>(operation: string, send: () => Promise<T>): Promise<T> {
    const { operationTimeoutMs: timeoutMs, reconnectGraceMs: graceMs, address } = this.options;
    const watch = this.watch;
    return new Promise<T>((resolve, reject) => {
      let sent = false;
      let settled = false;
      let graceTimer: ReturnType<typeof setTimeout> | undefined;
      let stopWatching = () => {};
      const finish = (settle: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(graceTimer);
        stopWatching();
        settle();
      };
      const timer = setTimeout(() => {
        const why = sent
          ? `no reply within ${timeoutMs} ms`
          : `not connected within ${timeoutMs} ms (client status '${watch?.status}')`;
        finish(() => reject(new Error(why)));
      }, timeoutMs);
      // The pending call is what matters; its timeout alone must not keep a process alive.
      timer.unref?.();
      const start = () => {
        sent = true;
        let reply: Promise<T>;
        try {
          reply = send();
        } catch (error) {
          finish(() => reject(error));
          return;
        }
        reply.then(
          (value) => finish(() => resolve(value)),
          (error: unknown) => finish(() => reject(error)),
        );
      };
      const look = () => {
        if (settled) return;
        const verdict = watch ? watch.verdict(graceMs) : ({ state: 'ready' } as const);
        if (verdict.state === 'failed') {
          const error = new StoreUnavailableError({ address, operation, cause: verdict.error });
          finish(() => reject(error));
        } else if (verdict.state === 'ready') {
          if (!sent) start();
        } else if (verdict.until !== undefined) {
          // Within the grace after losing a connection: look again when it ends.
          clearTimeout(graceTimer);
          graceTimer = setTimeout(look, Math.max(0, verdict.until - Date.now()));
          graceTimer.unref?.();
        }
      };
      if (watch) stopWatching = watch.onChange(look);
      look();
      if (!sent && !settled) watch?.connectIfIdle();
    });
  }
}
