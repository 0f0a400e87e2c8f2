import type { ProviderSimulatorOptions, ResolvedSimulatorOptions } from './provider-simulator-options';

/**
 * What the simulated provider saw since it started (or since the last `reset()`): counts and
 * maxima only, small enough to print. The per-request times are in `log()`.
 */
export interface ProviderSimulatorStats {
  /** Requests answered 200 (admitted within the limits). */
  accepted: number;
  /** Requests answered 429. */
  rejected: number;
  /** Injected faults, by kind. */
  faults: { p500: number; p529: number; reset: number };
  /** Tokens charged to accepted requests, summed. */
  tokens: number;
  /** The most admitted requests that started in any half-open window of `windowMs` (exact). */
  maxRequestsInAnyWindow: number;
  /** The most tokens charged to requests that started in any window of `windowMs` (exact). */
  maxTokensInAnyWindow: number;
  /** Admitted requests whose response has not been sent yet. */
  inFlight: number;
  /** The most admitted requests in flight at once. */
  maxInFlight: number;
  /** The window the maxima were computed over. */
  windowMs: number;
  /** Milliseconds since start (or the last reset). */
  elapsedMs: number;
}

/** Every request the simulated provider decided, since start (or the last `reset()`), for timelines and charts. */
export interface ProviderSimulatorLog {
  /** Admission time of every accepted request, in ms since start (or the last reset), ascending. */
  acceptedAtMs: number[];
  /** Tokens charged to each accepted request, parallel to `acceptedAtMs`. */
  acceptedTokens: number[];
  /** Time of every 429, in ms since start (or the last reset), ascending. */
  rejectedAtMs: number[];
}

/** A running simulator in this process, from `startProviderSimulator`. */
export interface ProviderSimulator {
  /** Base URL, e.g. `http://127.0.0.1:53211`; use `${url}/v1` as an SDK's `baseURL`. */
  readonly url: string;
  readonly port: number;
  /** Counters and the exact busiest-window maxima. */
  stats(): ProviderSimulatorStats;
  /** The time of every accepted and refused request (grows with the run; `stats()` has the summaries). */
  log(): ProviderSimulatorLog;
  /** Clears all history and counters (and re-seeds the random draws); options stay. */
  reset(): void;
  /** Changes options at run time; limit history is kept unless `mode` changes. */
  setOptions(update: Partial<ProviderSimulatorOptions>): void;
  /** The options in force, defaults filled in. */
  options(): ResolvedSimulatorOptions;
  /** Stops the server and drops open connections. */
  close(): Promise<void>;
}

/** A simulator running in its own child process, from `spawnProviderSimulator`. */
export interface SpawnedProviderSimulator {
  readonly url: string;
  readonly port: number;
  /** The child's process id. */
  readonly pid: number;
  stats(): Promise<ProviderSimulatorStats>;
  log(): Promise<ProviderSimulatorLog>;
  reset(): Promise<void>;
  setOptions(update: Partial<ProviderSimulatorOptions>): Promise<void>;
  options(): Promise<ResolvedSimulatorOptions>;
  /** Stops the server and waits for the child to exit. */
  close(): Promise<void>;
}
