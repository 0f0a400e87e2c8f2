/**
 * One LLM provider for an example: a provider simulator on 127.0.0.1 (the default), or the real
 * API when its key is in the environment — plus what it saw, for the report.
 */
import {
  startProviderSimulator,
  type ProviderSimulator,
  type ProviderSimulatorOptions,
} from '../../src/testing/index';
import { createLlm, hasApiKey, type Dialect, type Llm, type LlmOptions } from './llm';

/** Options of {@link openProvider}. */
export interface ProviderOptions extends Omit<LlmOptions, 'baseUrl' | 'dialect'> {
  /** The wire format (and which real API a key selects). @default 'openai' */
  dialect?: Dialect;
  /** The simulated provider's limits, latency and faults. */
  simulator?: ProviderSimulatorOptions;
  /**
   * `true`: always use the simulator (tests do); `false`: use the real API when its key is set.
   * @default false
   */
  simulate?: boolean;
}

/** A provider opened for one example run. */
export interface Provider {
  readonly name: string;
  readonly llm: Llm;
  /** The simulator, when the example runs against one. */
  readonly simulator: ProviderSimulator | undefined;
  /** Stops the simulator (a no-op for the real API). */
  close(): Promise<void>;
}

/** What a provider saw during a run, for reports and tests. */
export interface ProviderReport {
  name: string;
  target: Llm['target'];
  /** Calls the client made. */
  calls: number;
  /** Calls that succeeded. */
  succeeded: number;
  /** 429s: counted by the simulator when there is one (it sees every request), else by the client. */
  rateLimited: number;
  /** 529 overloads the client received. */
  overloaded: number;
  /** The most calls in flight at once, measured in the client. */
  maxInFlight: number;
  /** Simulator only: its request limit and window, and the most requests it admitted in any window. */
  requestsPerWindow?: number;
  tokensPerWindow?: number;
  windowMs?: number;
  maxRequestsInAnyWindow?: number;
  maxTokensInAnyWindow?: number;
  /** Simulator only: the most admitted requests in flight at once, as the provider saw them. */
  providerMaxInFlight?: number;
}

/** Starts a simulator for `options.simulator` (unless a real key is set and `simulate` is not) and makes a client for it. */
export async function openProvider(options: ProviderOptions = {}): Promise<Provider> {
  const { simulator: simOptions, simulate = false, dialect = 'openai', ...llmOptions } = options;
  const name = llmOptions.name ?? dialect;
  if (!simulate && hasApiKey(dialect)) {
    const llm = createLlm({ ...llmOptions, dialect, name });
    return { name, llm, simulator: undefined, close: async () => {} };
  }
  const simulator = await startProviderSimulator(simOptions ?? {});
  const llm = createLlm({ ...llmOptions, dialect, name, baseUrl: simulator.url });
  return { name, llm, simulator, close: () => simulator.close() };
}

/** What `provider` saw: the client's counters and, with a simulator, the provider-side truth. */
export function providerReport(provider: Provider): ProviderReport {
  const c = provider.llm.counters;
  const report: ProviderReport = {
    name: provider.name,
    target: provider.llm.target,
    calls: c.calls,
    succeeded: c.succeeded,
    rateLimited: c.rateLimited,
    overloaded: c.overloaded,
    maxInFlight: c.maxInFlight,
  };
  const sim = provider.simulator;
  if (sim) {
    const stats = sim.stats();
    const options = sim.options();
    report.rateLimited = stats.rejected;
    report.windowMs = options.windowMs;
    report.maxRequestsInAnyWindow = stats.maxRequestsInAnyWindow;
    report.maxTokensInAnyWindow = stats.maxTokensInAnyWindow;
    report.providerMaxInFlight = stats.maxInFlight;
    if (options.requestsPerWindow !== undefined) report.requestsPerWindow = options.requestsPerWindow;
    if (options.tokensPerWindow !== undefined) report.tokensPerWindow = options.tokensPerWindow;
  }
  return report;
}
