/** How latency is measured (config `evaluation.latency`); kept apart from the measuring code so configs stay light. */
export interface LatencySettings {
  /** Batch sizes timed (default [1, 32]). */
  batchSizes: number[];
  /** Time spent on each batch size, both models together, in seconds; the round count follows from it. */
  secondsPerBatch: number;
  /**
   * Bounds on the timed rounds per batch size. At least 30 by default: on a loaded machine a second may hold only a
   * dozen rounds of a large batch, too few for a median ratio (a model against itself read ×1.38 from 14 rounds).
   */
  minRounds: number;
  maxRounds: number;
}

export const DEFAULT_LATENCY: LatencySettings = { batchSizes: [1, 32], secondsPerBatch: 1, minRounds: 30, maxRounds: 500 };
