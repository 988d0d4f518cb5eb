/**
 * Where a stage's wall time goes, phase by phase (sensitivity, search, recovery, …): the stage's `timings.phases`
 * and `timings.seconds` in report.json, never its `details` (wall time differs run to run). `npm run bench` prints
 * them, so a slow stage on a large model says which phase to look at.
 */
export interface PhaseTimes {
  /** Ends the current phase, adding the time since the previous lap (or the start) to `name`. */
  lap(name: string): void;
  /** Seconds since the start. */
  elapsed(): number;
  /** Seconds per phase so far, in the order the phases first ended (rounded to ms). */
  phases(): Record<string, number>;
}

export function phaseTimes(): PhaseTimes {
  const started = performance.now();
  let mark = started;
  const phases: Record<string, number> = {};
  return {
    lap(name) {
      const now = performance.now();
      phases[name] = (phases[name] ?? 0) + (now - mark) / 1000;
      mark = now;
    },
    elapsed: () => (performance.now() - started) / 1000,
    phases: () => Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, Math.round(v * 1000) / 1000])),
  };
}
