/**
 * What a run says while it works, for whoever shows it: a terminal's live display, plain lines in a CI log, or
 * nothing (library use). The runner reports run-level lines and stage starts; stages' own messages are activity;
 * measurable work deep inside a stage (fine-tuning samples, candidates evaluated) reports steps through the async
 * context the runner opens around each stage, so the code doing the work needs no sink passed down to it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface StepProgress {
  /** What is being counted, e.g. `fine-tune`, `candidates`. */
  label: string;
  done: number;
  /** Absent when the end is not known ahead (a time limit, a search that stops on its own). */
  total?: number;
  unit: string;
}

export interface ProgressSink {
  /** A line worth keeping: the model and data, the baseline, a stage's result. */
  line(message: string): void;
  /** What the current stage is doing right now (a terminal shows the latest in place). */
  activity(message: string): void;
  /** A stage begins (index counts from 1). */
  stage(name: string, index: number, count: number): void;
  step(p: StepProgress): void;
}

/** Everything as plain lines through `log` (how library callers of runPipeline see progress); steps are not lines. */
export function lineSink(log: (message: string) => void = () => {}): ProgressSink {
  return { line: log, activity: log, stage: () => {}, step: () => {} };
}

const current = new AsyncLocalStorage<ProgressSink>();

/** Runs `body` with `sink` receiving the steps reported anywhere beneath it (reportStep). */
export function withProgress<T>(sink: ProgressSink, body: () => Promise<T>): Promise<T> {
  return current.run(sink, body);
}

/** Reports measurable progress to the sink of the enclosing run, if any; cheap enough to call every batch. */
export function reportStep(p: StepProgress): void {
  current.getStore()?.step(p);
}
