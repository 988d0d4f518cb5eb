/**
 * Long loops over data yield to the event loop now and then, so a signal handler, progress output or an interrupt
 * gets to run while megabytes are converted.
 */
import { setImmediate as nextTick } from 'node:timers/promises';

/** Elements a loop processes between yields: a few milliseconds of simple arithmetic. */
export const YIELD_EVERY = 1 << 20;

export function yieldToEventLoop(): Promise<void> {
  return nextTick();
}

/** Calls `body(start, end)` over [0, n) in slices of `slice` elements, yielding between slices. */
export async function forEachSlice(n: number, body: (start: number, end: number) => void, slice = YIELD_EVERY): Promise<void> {
  for (let start = 0; start < n; start += slice) {
    body(start, Math.min(n, start + slice));
    if (start + slice < n) await yieldToEventLoop();
  }
}
