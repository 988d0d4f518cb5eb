/**
 * A node:test reporter that prints each test file's wall time (from the runner starting the file's process to the
 * file completing: start-up, imports, hooks and tests), slowest first, after the run. `npm test` sends it to
 * stderr beside the TAP on stdout, so every full run (and every land log) says where the suite's time goes.
 * JavaScript, not TypeScript: node loads reporters before `--import tsx` is in effect.
 */
import path from 'node:path';

/** @param {AsyncIterable<{ type: string, data: { name?: string, file?: string, nesting?: number } }>} source */
export default async function* fileDurations(source) {
  /** @type {Map<string, number>} */
  const started = new Map();
  /** @type {Map<string, number>} */
  const seconds = new Map();
  for await (const event of source) {
    const { file, name, nesting } = event.data;
    // File-level events carry the file's own path as their name (a test's events carry the test's name).
    if (!file || nesting !== 0 || name !== file) continue;
    if (event.type === 'test:dequeue') started.set(file, performance.now());
    else if (event.type === 'test:complete' && started.has(file)) seconds.set(file, (performance.now() - started.get(file)) / 1000);
  }
  if (seconds.size === 0) return;
  const rows = [...seconds].sort((a, b) => b[1] - a[1]);
  const total = rows.reduce((n, [, s]) => n + s, 0);
  yield `# test files by wall time (${rows.length} files, ${total.toFixed(1)} s in all):\n`;
  for (const [file, s] of rows) yield `# ${s.toFixed(1).padStart(7)} s  ${path.relative(process.cwd(), file)}\n`;
}
