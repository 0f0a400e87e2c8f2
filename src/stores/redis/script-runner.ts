import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/** An ioredis client or cluster: anything that can `EVAL` and `EVALSHA`. */
export type RedisClient = Redis | Cluster;

/** One Lua script with its SHA-1 digest (what `EVALSHA` runs it by). */
export interface LoadedScript {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
}

/** A value a script accepts in `ARGV`. */
export type ScriptArg = string | number;

/** Counters for how often the runner fell back from `EVALSHA` to `EVAL`. */
export interface ScriptRunnerStats {
  /** Calls answered by `EVALSHA` on the first try. */
  evalsha: number;
  /** `NOSCRIPT` replies that were healed by re-sending the source with `EVAL`. */
  reloads: number;
}

/** True for Redis's `NOSCRIPT No matching script` reply (script cache empty after a restart or `SCRIPT FLUSH`). */
export function isNoScriptError(error: unknown): boolean {
  return error instanceof Error && /^NOSCRIPT\b/.test(error.message);
}

/**
 * Runs Lua scripts by SHA with `EVALSHA`, healing a `NOSCRIPT` reply by sending the source once with
 * `EVAL` (which also puts it back in the server's script cache). A Redis restart or `SCRIPT FLUSH`
 * between two calls therefore costs one extra round trip, never a failed call.
 *
 * Retrying on `NOSCRIPT` is always safe: Redis answers it before running anything. No other error is
 * retried here, because after a lost connection a script may or may not have run.
 */
export class ScriptRunner<Name extends string = string> {
  private readonly scripts: ReadonlyMap<Name, LoadedScript>;
  private readonly counters: ScriptRunnerStats = { evalsha: 0, reloads: 0 };

  /**
   * @param client the ioredis client or cluster to run on.
   * @param sources script sources by name.
   */
  constructor(
    private readonly client: RedisClient,
    sources: Readonly<Record<Name, string>>,
  ) {
    const scripts = new Map<Name, LoadedScript>();
    for (const name of Object.keys(sources) as Name[]) {
      const source = sources[name];
      scripts.set(name, { name, source, sha: createHash('sha1').update(source, 'utf8').digest('hex') });
    }
    this.scripts = scripts;
  }

  /** The script registered under `name` (throws for an unknown name). */
  script(name: Name): LoadedScript {
    const script = this.scripts.get(name);
    if (!script) throw new Error(`Unknown Redis script '${name}'`);
    return script;
  }

  /** How many calls needed a reload so far. */
  stats(): ScriptRunnerStats {
    return { ...this.counters };
  }

  /**
   * Runs script `name` with `keys` as `KEYS` and `args` as `ARGV`; resolves with the script's reply.
   * All keys must hash to one slot on a Cluster (use one `{hash tag}`).
   */
  async run(name: Name, keys: readonly string[], args: readonly ScriptArg[]): Promise<unknown> {
    const script = this.script(name);
    try {
      const reply = await this.client.evalsha(script.sha, keys.length, ...keys, ...args);
      this.counters.evalsha++;
      return reply;
    } catch (error) {
      if (!isNoScriptError(error)) throw error;
      this.counters.reloads++;
      return this.client.eval(script.source, keys.length, ...keys, ...args);
    }
  }

  /**
   * Loads every script into the server's cache (`SCRIPT LOAD`). Optional: {@link run} heals a
   * missing script by itself; this only saves the first call's extra round trip.
   */
  async preload(): Promise<void> {
    // On a Cluster `SCRIPT LOAD` reaches one node only; EVALSHA's NOSCRIPT healing covers the rest.
    if (this.client.isCluster) return;
    const client = this.client;
    await Promise.all([...this.scripts.values()].map((s) => client.script('LOAD', s.source)));
  }
}
