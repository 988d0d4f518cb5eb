/** Messages between the fuzz test (parent) and its worker process. */
export interface WorkerRequest {
  /** Case indices [from, to) to run, in order. */
  from: number;
  to: number;
  seed: number;
  /** Folders holding a sane model/ and data/ to copy and mutate; each case picks one. */
  bases: string[];
  /** Where case folders are made (each is removed after its case). */
  root: string;
}

export interface CaseResult {
  index: number;
  base: string;
  mutations: string[];
  /** The CLI's exit code; null when main itself threw. */
  code: number | null;
  stderr: string;
  /** The last lines libraries printed, for a failure report. */
  noise: string;
  ms: number;
  rss: number;
}

export type WorkerMessage = { started: number } | CaseResult | { finished: true };
