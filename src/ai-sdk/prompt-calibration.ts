import { abortReason } from '../util/clock';

/** How far a lower ratio pulls the factor down per call: it rises at once, and falls slowly. */
const FALL_RATE = 0.05;
/** Prompts smaller than this say little about the ratio (framing tokens dominate). */
const MIN_PROMPT_TOKENS = 16;

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
 * Until a model's first call has reported its usage, that call goes alone and the model's other
 * calls wait for it (one round trip, once), so a burst is never admitted on an uncalibrated guess.
 */
export class PromptCalibration {
  private readonly models = new Map<string, ModelState>();

  /** Waits while the model's probe call is out; the first call of a model becomes its probe. */
  async enter(modelId: string, signal: AbortSignal | undefined): Promise<CalibrationTicket> {
    const state = this.stateOf(modelId);
    while (state.probe) await untilSettledOrAborted(state.probe, signal);
    let endProbe: (() => void) | undefined;
    if (!state.calibrated) state.probe = new Promise<void>((resolve) => (endProbe = resolve));
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

function untilSettledOrAborted(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}
