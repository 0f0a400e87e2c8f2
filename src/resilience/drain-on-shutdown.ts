import { z } from 'zod';
import { Limiter } from '../limits/limiter';
import { LimiterRegistry } from '../registry/limiter-registry';
import { isRecord } from '../util/is-record';
import { InvalidOptionError, opt, parseOptions } from '../validation/options';
import { onShutdown, type ShutdownOptions } from './shutdown-signals';

/** Anything that stops taking work and resolves once its work in progress is done (e.g. a throttled batch flow). */
export interface Stoppable {
  stop(): unknown;
}

/** Options of {@link drainOnShutdown}: those of {@link onShutdown}, and what to stop and how to drain. */
export interface DrainOnShutdownOptions extends ShutdownOptions {
  /**
   * What the limiters do with acquires already waiting: `'serve'` serves them (their work counts
   * as in flight), `'reject'` rejects them with `ShutdownError`, as `limiter.drain({ queued })`.
   * On a signal the default serves: the process is leaving anyway, and work already admitted to
   * the queue is usually worth finishing within the shutdown timeout. `'finish'` is the 0.1 name
   * of `'serve'`, still accepted.
   * @default 'serve'
   */
  queued?: 'serve' | 'reject' | 'finish';
  /**
   * Stopped (and waited for) before the limiters drain: e.g. throttled batch flows, whose
   * `stop()` starts no more sub-flows and lets the running ones finish, which may still need the
   * limiters.
   * @default []
   */
  flows?: readonly Stoppable[];
  /**
   * Where limiter names are looked up (at shutdown time).
   * @default LimiterRegistry.default
   */
  registry?: LimiterRegistry;
}

const isStoppable = (v: unknown): v is Stoppable => isRecord(v) && typeof v.stop === 'function';

const ownSchema = z.object({
  queued: opt.oneOf(['serve', 'reject', 'finish']).optional(),
  flows: z
    .array(opt.instance(isStoppable, 'something with stop()'), { error: 'an array of flows' })
    .optional(),
  registry: z.instanceof(LimiterRegistry, { error: 'a LimiterRegistry' }).optional(),
});

/**
 * Drains `limiters` when the process is told to stop (SIGTERM/SIGINT by default), then exits:
 * `flows` are stopped first and waited for, then every limiter refuses new work with
 * `ShutdownError` and the drain waits until nothing is in flight, so no call that started is
 * lost. Bounded by `timeoutMs` like any {@link onShutdown} handler.
 *
 * `limiters` are {@link Limiter}s, registered names, or a whole {@link LimiterRegistry} (every
 * limiter registered in it at shutdown time). Returns a function that uninstalls the handler.
 *
 * @example
 * drainOnShutdown(LimiterRegistry.default, { flows: [pipeline], timeoutMs: 25_000 });
 * drainOnShutdown(['openai', 'anthropic'], { queued: 'reject' });
 */
export function drainOnShutdown(
  limiters: readonly (Limiter | string)[] | LimiterRegistry,
  options: DrainOnShutdownOptions = {},
): () => void {
  const { queued, flows, registry, ...shutdownOptions } = options;
  const own = parseOptions(ownSchema, { queued, flows, registry }, 'drainOnShutdown');
  const lookup = own.registry ?? LimiterRegistry.default;
  if (!(limiters instanceof LimiterRegistry)) {
    if (!Array.isArray(limiters)) {
      throw new InvalidOptionError(
        'limiters',
        'drainOnShutdown: limiters must be an array of Limiters or names, or a LimiterRegistry',
      );
    }
    limiters.forEach((l, i) => {
      if (!(l instanceof Limiter) && (typeof l !== 'string' || l.length === 0)) {
        throw new InvalidOptionError(
          `limiters.${i}`,
          `limiters.${i} must be a Limiter or a registered name, got ${String(l)}`,
        );
      }
    });
  }
  const resolve = (): Limiter[] =>
    limiters instanceof LimiterRegistry
      ? limiters.names().map((name) => limiters.get(name))
      : limiters.map((l) => (typeof l === 'string' ? lookup.get(l) : l));

  return onShutdown(async () => {
    await Promise.all((own.flows ?? []).map((flow) => flow.stop()));
    const drainOptions = { queued: own.queued === 'reject' ? 'reject' : 'serve' } as const;
    await Promise.all([...new Set(resolve())].map((limiter) => limiter.drain(drainOptions)));
  }, shutdownOptions);
}
