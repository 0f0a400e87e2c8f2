import { abortReason, type Clock } from '../util/clock';

/** How far a lower ratio pulls the factor down per call: it rises at once, and falls slowly. */
const FALL_RATE = 0.05;
/** Prompts smaller than this say little about the ratio (framing tokens dominate). */
const MIN_PROMPT_TOKENS = 16;
/** The longest a call waits for a model's first call to report; then it goes on the estimate it has. */
export const MAX_PROBE_WAIT_MS = 15_000;

interface ModelState {
  /** Provider's input tokens per token of our estimate. */
  factor: number;
  /** Whether a reported usage has set the factor yet. */
  calibrated: boolean;
  /** The call out to learn the factor; others of the model wait for it. */
  probe: Promise<void> | undefined;
}

/** What one call does with the calibration once it ends. */
export interface CalibrationTicket {
  /** Provider's input tokens per token of our estimate, for this call. */
  readonly factor: number;
  /** The call ended: learn from the input tokens the provider reported (if it did). */
  done(estimatedPromptTokens: number, reportedInputTokens: number | undefined): void;
}

/**
 * Learns, per model, how the provider's count of a prompt compares with our estimate: providers
 * count with their own tokenizers (and some rate limiters with their own estimates), which no
 * client-side tokenizer matches for every model. The factor rises at once when a call reports more
 * than we thought and falls slowly when it reports less, so estimates err on the safe side.
 *
 * Until a model's first generate call has reported its usage, that call goes alone and the
 * model's other calls wait for it (one round trip, once; at most {@link MAX_PROBE_WAIT_MS}), so a
 * burst is never admitted on an uncalibrated guess. A stream never goes alone: its usage comes at
 * its end, and a chat's first stream must not hold up the others for its whole length.
 */
export class PromptCalibration {
  private readonly models = new Map<string, ModelState>();

  /**
   * Waits while the model's probe call is out; the first generate call of a model becomes its probe.
   * @param canProbe - whether this call may be the probe (generate calls; not streams)
   */
  async enter(
    modelId: string,
    options: { signal: AbortSignal | undefined; clock: Clock; canProbe: boolean },
  ): Promise<CalibrationTicket> {
    const { signal, clock, canProbe } = options;
    const state = this.stateOf(modelId);
    const giveUpAtMs = clock.now() + MAX_PROBE_WAIT_MS;
    while (state.probe && clock.now() < giveUpAtMs) {
      await untilSettledOrAborted(state.probe, signal, clock, giveUpAtMs - clock.now());
    }
    let endProbe: (() => void) | undefined;
    if (!state.calibrated && !state.probe && canProbe) {
      state.probe = new Promise<void>((resolve) => (endProbe = resolve));
    }
    return {
      factor: state.factor,
      done: (estimated, reported) => {
        this.learn(state, estimated, reported);
        if (endProbe) {
          state.probe = undefined;
          endProbe();
          endProbe = undefined;
        }
      },
    };
  }

  private learn(state: ModelState, estimated: number, reported: number | undefined): void {
    if (reported === undefined || !(estimated >= MIN_PROMPT_TOKENS) || !Number.isFinite(reported)) return;
    const ratio = reported / estimated;
    if (!(ratio > 0)) return;
    state.factor =
      !state.calibrated || ratio > state.factor ? ratio : state.factor + (ratio - state.factor) * FALL_RATE;
    state.calibrated = true;
  }

  private stateOf(modelId: string): ModelState {
    let state = this.models.get(modelId);
    if (!state) {
      state = { factor: 1, calibrated: false, probe: undefined };
      this.models.set(modelId, state);
    }
    return state;
  }
}

/** Resolves when `promise` settles or `maxMs` passes; rejects with the signal's reason on an abort. */
async function untilSettledOrAborted(
  promise: Promise<void>,
  signal: AbortSignal | undefined,
  clock: Clock,
  maxMs: number,
): Promise<void> {
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (signal?.aborted) throw abortReason(signal);
    const timer = clock.sleep(maxMs, stop.signal).catch(() => {});
    await Promise.race([promise, timer]);
    if (signal?.aborted) throw abortReason(signal);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    stop.abort(); // ends the timer's sleep
  }
}
