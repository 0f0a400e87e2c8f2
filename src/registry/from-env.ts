import { z } from 'zod';
import type { Limiter, LimiterOptions } from '../limits/limiter';
import { Presets } from '../presets/presets';
import { didYouMean, InvalidOptionError, parseOptions } from '../validation/options';
import type { LimiterRegistry } from './limiter-registry';

/** Environment variables as `process.env` holds them. @category Limiters */
export type EnvLike = Readonly<Record<string, string | undefined>>;

/** Options of {@link LimiterRegistry.fromEnv}. @category Limiters */
export interface FromEnvOptions {
  /**
   * Prefix of the variables read; `THROTTLEFLOW_OPENAI=tier2` registers `openai`.
   * @default 'THROTTLEFLOW_'
   */
  prefix?: string;
  /**
   * Replace a limiter already registered under a name the environment configures (the
   * environment overrides defaults registered in code). `false` throws instead.
   * @default true
   */
  replace?: boolean;
}

/** The numeric settings a variable can set, by suffix: `THROTTLEFLOW_OPENAI_MAX_PER_MINUTE=500`. */
const SETTINGS = {
  MAX_CONCURRENT: 'maxConcurrent',
  MAX_PER_MINUTE: 'maxPerMinute',
  MAX_TOKENS_PER_MINUTE: 'maxTokensPerMinute',
  MAX_PER_DAY: 'maxPerDay',
  MAX_QUEUED: 'maxQueued',
} as const satisfies Record<string, keyof LimiterOptions>;

type Setting = keyof typeof SETTINGS;
const SUFFIXES = (Object.keys(SETTINGS) as Setting[]).sort((a, b) => b.length - a.length);

// Validates the variable's text, so errors quote it as written.
const positiveInt = z
  .string({ error: 'a positive integer' })
  .regex(/^\s*\+?0*[1-9]\d*\s*$/, { error: 'a positive integer' })
  .refine((v) => Number(v) <= Number.MAX_SAFE_INTEGER, { error: 'a positive integer' });

/** How one limiter is configured in the environment. */
interface Configured {
  /** Variable name → value, for the preset (`THROTTLEFLOW_OPENAI`). */
  preset?: { variable: string; value: string };
  /** Variable name → value, per numeric setting. */
  settings: Partial<Record<Setting, { variable: string; value: string }>>;
}

/**
 * Reads limiter settings from environment variables, validated (errors name the variable and
 * its value), without registering anything:
 *
 * - `THROTTLEFLOW_<NAME>=<preset>`: a preset by full name (`openai_tier2`, `MODERATE`) or by the
 *   part after the provider (`tier2` for `THROTTLEFLOW_OPENAI`, `build_tier2` or just `tier2` for
 *   `THROTTLEFLOW_ANTHROPIC`);
 * - `THROTTLEFLOW_<NAME>_MAX_CONCURRENT`, `_MAX_PER_MINUTE`, `_MAX_TOKENS_PER_MINUTE`,
 *   `_MAX_PER_DAY`, `_MAX_QUEUED`: positive integers, overriding the preset's numbers.
 *
 * `<NAME>` in lower case names the limiter (`THROTTLEFLOW_MY_API=moderate` → `my_api`). Empty
 * variables are ignored.
 *
 * @returns limiter options by name, in the order their variables were found
 * @throws InvalidOptionError naming the variable, e.g.
 * `THROTTLEFLOW_OPENAI_MAX_PER_MINUTE must be a positive integer, got 'abc'`
 * @category Limiters
 */
export function limiterOptionsFromEnv(
  env: EnvLike = defaultEnv(),
  options: Pick<FromEnvOptions, 'prefix'> = {},
): Record<string, LimiterOptions> {
  const prefix = options.prefix ?? 'THROTTLEFLOW_';
  if (typeof prefix !== 'string' || prefix === '') {
    throw new InvalidOptionError(
      'prefix',
      `prefix must be a non-empty string, got ${JSON.stringify(prefix)}`,
    );
  }
  const found = new Map<string, Configured>();
  for (const [variable, raw] of Object.entries(env ?? {})) {
    if (!variable.toUpperCase().startsWith(prefix.toUpperCase()) || raw === undefined || raw.trim() === '')
      continue;
    const rest = variable.slice(prefix.length).toUpperCase();
    const setting = SUFFIXES.find((s) => rest.endsWith(`_${s}`) && rest.length > s.length + 1);
    const name = setting ? rest.slice(0, -(setting.length + 1)) : rest;
    if (!/^[A-Z0-9][A-Z0-9_]*$/.test(name)) {
      throw new InvalidOptionError(
        variable,
        `${variable}: '${name}' is not a limiter name (letters, digits and underscores after ${prefix})`,
      );
    }
    if (!setting) rejectUnknownSetting(variable, name);
    const entry = found.get(name) ?? { settings: {} };
    found.set(name, entry);
    if (setting) entry.settings[setting] = { variable, value: raw };
    else entry.preset = { variable, value: raw };
  }

  const out: Record<string, LimiterOptions> = {};
  for (const [name, entry] of found) {
    const limits: LimiterOptions = entry.preset
      ? { ...resolvePreset(name, entry.preset.variable, entry.preset.value) }
      : {};
    for (const [setting, { variable, value }] of Object.entries(entry.settings) as [
      Setting,
      { variable: string; value: string },
    ][]) {
      const parsed = parseOptions(
        z.object({ [variable]: positiveInt }),
        { [variable]: value },
        'environment',
      );
      (limits as Record<string, unknown>)[SETTINGS[setting]] = Number(parsed[variable]);
    }
    out[name.toLowerCase()] = limits;
  }
  return out;
}

/**
 * Registers a limiter per name the environment configures (see {@link limiterOptionsFromEnv}).
 * Everything is validated before anything is registered.
 * @returns the registered limiters by name
 * @internal the implementation of `LimiterRegistry.fromEnv`
 */
export function registerFromEnv(
  registry: LimiterRegistry,
  env: EnvLike | undefined,
  options: FromEnvOptions = {},
): Record<string, Limiter> {
  const replace = options.replace ?? true;
  if (typeof replace !== 'boolean')
    throw new InvalidOptionError('replace', `replace must be a boolean, got ${JSON.stringify(replace)}`);
  const configured = limiterOptionsFromEnv(env ?? defaultEnv(), options);
  if (!replace) {
    const taken = Object.keys(configured).filter((name) => registry.has(name));
    if (taken.length > 0) {
      throw new Error(
        `LimiterRegistry.fromEnv: ${taken.map((n) => `'${n}'`).join(', ')} already registered; pass { replace: true } to let the environment replace them`,
      );
    }
  }
  const limiters: Record<string, Limiter> = {};
  for (const [name, limits] of Object.entries(configured)) {
    limiters[name] = registry.register(name, { ...limits, name }, { replace });
  }
  return limiters;
}

/** `process.env` where there is one (Node, Bun, Deno's compatibility layer), else nothing. */
function defaultEnv(): EnvLike {
  const env = (globalThis as { process?: { env?: EnvLike } }).process?.env;
  return env ?? {};
}

/** A name such as `OPENAI_MAX_PER_HOUR` is a misspelt setting, not a limiter called that. */
function rejectUnknownSetting(variable: string, name: string): void {
  const match = /_(MAX_[A-Z_]*)$/.exec(name);
  if (!match) return;
  const suffix = match[1]!;
  throw new InvalidOptionError(
    variable,
    `${variable}: unknown setting ${suffix}${didYouMean(suffix, SUFFIXES)}; known: ${SUFFIXES.slice().reverse().join(', ')}`,
  );
}

/** The preset `value` names for limiter `name`: a full preset name, or one of the provider's presets by its tail. */
function resolvePreset(name: string, variable: string, value: string): LimiterOptions {
  const all = Presets.list();
  const wanted = value
    .trim()
    .toUpperCase()
    .replace(/[-\s]+/g, '_');
  const exact = all.find((p) => p === wanted) ?? all.find((p) => p === `${name}_${wanted}`);
  if (exact) return Presets.get(exact);
  // `tier2` for ANTHROPIC finds ANTHROPIC_BUILD_TIER2: the one preset of that provider ending so.
  const tails = all.filter((p) => p.startsWith(`${name}_`) && p.endsWith(`_${wanted}`));
  if (tails.length === 1) return Presets.get(tails[0]!);
  const own = all.filter((p) => p.startsWith(`${name}_`));
  const hint = didYouMean(wanted, [...own.map((p) => p.slice(name.length + 1)), ...all]);
  const ambiguous = tails.length > 1 ? ` ('${value}' matches ${tails.join(', ')}: name one)` : '';
  const choices =
    own.length > 0
      ? own.map((p) => p.slice(name.length + 1).toLowerCase()).join(', ')
      : all.map((p) => p.toLowerCase()).join(', ');
  throw new InvalidOptionError(
    variable,
    `${variable} must be a preset name, got '${value}'${ambiguous}${hint}; ${own.length > 0 ? `${name.toLowerCase()} presets` : 'presets'}: ${choices}`,
  );
}
