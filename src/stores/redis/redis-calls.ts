import { ScriptRunner, type RedisClient, type ScriptArg } from './script-runner';
import { luaScripts } from './scripts.generated';
import { StoreUnavailableError } from './store-unavailable-error';

/** The name of one of the store's Lua scripts. */
export type ScriptName = keyof typeof luaScripts;

/** Error names/replies that mean "Redis cannot serve us right now" rather than "our script is wrong". */
const UNAVAILABLE_REPLY = /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY|NOREPLICAS)\b/;

/** True when `error` comes from the connection (refused, closed, timed out, retries exhausted). */
export function isUnavailableError(error: unknown): boolean {
  if (!(error instanceof Error)) return true;
  if (error.name === 'ReplyError') return UNAVAILABLE_REPLY.test(error.message);
  return true;
}

/**
 * Every Redis round trip of the store: a script by SHA (NOSCRIPT healed by the runner) or a plain
 * command, bounded by the operation timeout, with a dead or silent connection turned into
 * {@link StoreUnavailableError} so callers (and the local fallback) can tell it from a bug.
 */
export class RedisCalls {
  readonly scripts: ScriptRunner<ScriptName>;

  constructor(
    client: RedisClient,
    private readonly address: string,
    private readonly operationTimeoutMs: number,
  ) {
    this.scripts = new ScriptRunner(client, luaScripts);
  }

  /** Runs script `name` (one round trip). */
  script(name: ScriptName, keys: string[], args: ScriptArg[]): Promise<unknown> {
    return this.command(name, () => this.scripts.run(name, keys, args));
  }

  /** Runs one Redis round trip, turning a dead or silent connection into {@link StoreUnavailableError}. */
  async command<T>(operation: string, send: () => Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no reply within ${this.operationTimeoutMs} ms`)), this.operationTimeoutMs);
      // The pending call is what matters; its timeout alone must not keep a process alive.
      timer.unref?.();
    });
    try {
      return await Promise.race([send(), timeout]);
    } catch (error) {
      if (isUnavailableError(error)) {
        throw new StoreUnavailableError({ address: this.address, operation, cause: error });
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }
}
