import { InvalidOptionError } from '../../validation/options';

/**
 * Key layout of the Redis store. Every key of one limiter carries the hash tag `{name}`, so on a
 * Redis Cluster they all live in one slot and each Lua script touches a single node.
 *
 * ```
 * <prefix>{<name>}:leases                    ZSET    lease id → expiry (ms, Redis time)
 * <prefix>{<name>}:pause                     STRING  paused-until (ms, Redis time), PX = the pause
 * <prefix>{<name>}:waiting                   STRING  present while an acquire is denied (release publishes then)
 * <prefix>{<name>}:extend                    STRING  ms every window is extended by (after unexpected 429s)
 * <prefix>{<name>}:w:<resource>:<windowMs>   ZSET    "<first lease id>+:<units>" → start time (ms): one entry per
 *                                                    batch of grants; reconcile entries "<lease id>~:<units>"
 *                                                    (may be negative), "<lease id>^:<units>", "<lease id>:<units>"
 * <prefix>{<name>}:w:<resource>:<windowMs>:sum  STRING  units held by that log
 * <prefix>{<name>}:clients                   ZSET    store instance id → presence expiry (heartbeat)
 * <prefix>{<name>}:aimd                      HASH    shared AIMD level
 * <prefix>{<name>}:stats                     HASH    shared counters (requests, tokens, rate limits …)
 * <prefix>{<name>}:released                  pub/sub channel: capacity was freed
 * ```
 */

/** Characters a prefix may not contain: braces would move the hash tag, glob characters break SCAN. */
const FORBIDDEN_IN_PREFIX = /[{}*?[\]\\]/;

/** Throws a clear error for a prefix that would break the key layout. */
export function assertValidPrefix(prefix: string): void {
  if (FORBIDDEN_IN_PREFIX.test(prefix)) {
    throw new InvalidOptionError(
      'prefix',
      `RedisStore prefix must not contain { } * ? [ ] or \\, got ${JSON.stringify(prefix)}`,
    );
  }
}

/** A window's identity in Redis: the resource it counts and its length. */
export interface WindowKeyParts {
  readonly resource: string;
  readonly windowMs: number;
}

/** The keys of one named limiter. */
export class LimiterKeys {
  /** `<prefix>{<name>}`: the part every key starts with. */
  readonly base: string;
  readonly leases: string;
  readonly pause: string;
  readonly waiting: string;
  readonly extend: string;
  readonly clients: string;
  readonly aimd: string;
  readonly stats: string;
  /** The pub/sub channel a release publishes on when someone waits. */
  readonly releasedChannel: string;

  constructor(prefix: string, name: string) {
    // `}` in a name would end the hash tag early: every key would still share the (shorter) tag,
    // but say it plainly instead by escaping it.
    const tag = name.replace(/[{}]/g, (c) => (c === '{' ? '%7B' : '%7D'));
    this.base = `${prefix}{${tag}}`;
    this.leases = `${this.base}:leases`;
    this.pause = `${this.base}:pause`;
    this.waiting = `${this.base}:waiting`;
    this.extend = `${this.base}:extend`;
    this.clients = `${this.base}:clients`;
    this.aimd = `${this.base}:aimd`;
    this.stats = `${this.base}:stats`;
    this.releasedChannel = `${this.base}:released`;
  }

  /** The sliding-window log of `resource` over `windowMs`. */
  windowLog(window: WindowKeyParts): string {
    return `${this.base}:w:${window.resource}:${window.windowMs}`;
  }

  /** The running sum that goes with {@link windowLog}. */
  windowSum(window: WindowKeyParts): string {
    return `${this.windowLog(window)}:sum`;
  }
}
