/**
 * Named targets: one config, several builds of the same model (e.g. `web`: a tight budget and TF.js; `server`:
 * ONNX). A target overrides the top-level keys it names — `stages`, `budget`, `seed`, `validationFraction`,
 * `evaluation`, `backend`, `out` — and shares every other one; `budget` and `evaluation` merge key by key. Command-line
 * flags override both. Each target writes to its own folder (`<out>/<target>` unless it sets `out`).
 *
 * `--target a,b` picks targets by name; `--shard i/n` takes a deterministic slice of the (name-sorted) selection —
 * the k-th target goes to shard (k mod n) + 1 — so a CI matrix of n jobs covers every target exactly once, and a
 * target always lands on the same job (whose cache then holds its entries).
 */
import { SlimnetError } from './errors.ts';

export const TARGET_KEYS = ['stages', 'budget', 'seed', 'validationFraction', 'evaluation', 'backend', 'out'] as const;
export type TargetOverrides = Partial<Record<(typeof TARGET_KEYS)[number], unknown>>;

export interface Shard {
  index: number;
  count: number;
}

/** `i/n` with 1 ≤ i ≤ n. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) {
    throw new SlimnetError('CONFIG_INVALID', '--shard', `expected i/n with 1 ≤ i ≤ n, got "${text}"`, 'e.g. --shard 1/2 and --shard 2/2 in two CI jobs');
  }
  return { index, count };
}

/** The target names this invocation runs, in name order. `names` are the config's targets. */
export function selectTargets(names: string[], opts: { target?: string; shard?: Shard; source: string }): string[] {
  let selected = [...names].sort();
  if (opts.target !== undefined) {
    const wanted = opts.target.split(',').map((s) => s.trim()).filter(Boolean);
    if (names.length === 0) {
      throw new SlimnetError('CONFIG_INVALID', '--target', `${opts.source} defines no targets`, 'add `targets: { name: {...} }` to the config, or drop --target');
    }
    const unknown = wanted.filter((w) => !names.includes(w));
    if (unknown.length) {
      throw new SlimnetError('CONFIG_INVALID', '--target', `no target named ${unknown.map((u) => `"${u}"`).join(', ')}`, `targets in ${opts.source}: ${[...names].sort().join(', ')}`);
    }
    selected = selected.filter((n) => wanted.includes(n));
  }
  if (opts.shard) {
    const { index, count } = opts.shard;
    selected = selected.filter((_, k) => k % count === index - 1);
  }
  return selected;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The config a target runs with: the shared keys, the target's overrides on top (budget/evaluation merged). */
export function mergeTarget(base: Record<string, unknown>, name: string, target: unknown, source: string): Record<string, unknown> {
  if (!isPlainObject(target)) {
    throw new SlimnetError('CONFIG_INVALID', `${source}: targets.${name}`, 'must be an object of overrides', `keys a target may set: ${TARGET_KEYS.join(', ')}`);
  }
  const unknown = Object.keys(target).filter((k) => !(TARGET_KEYS as readonly string[]).includes(k));
  if (unknown.length) {
    throw new SlimnetError('CONFIG_INVALID', `${source}: targets.${name}`, `unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}`,
      `keys a target may set: ${TARGET_KEYS.join(', ')}`);
  }
  const { targets: _targets, ...shared } = base;
  const merged: Record<string, unknown> = { ...shared };
  for (const [key, value] of Object.entries(target)) {
    merged[key] = (key === 'budget' || key === 'evaluation') && isPlainObject(shared[key]) && isPlainObject(value) ? { ...shared[key], ...value } : value;
  }
  return merged;
}

/** Target names are folder names and CLI arguments. */
export function checkTargetNames(targets: unknown, source: string): string[] {
  if (targets === undefined) return [];
  if (!isPlainObject(targets) || Object.keys(targets).length === 0) {
    throw new SlimnetError('CONFIG_INVALID', `${source}: targets`, 'must be an object with at least one named target', 'e.g. targets: { web: { budget: { maxAccuracyDrop: 0.005 } } }');
  }
  for (const name of Object.keys(targets)) {
    if (!/^[\w.-]+$/.test(name) || name === '.' || name === '..') {
      throw new SlimnetError('CONFIG_INVALID', `${source}: targets.${name}`, 'target names use letters, digits, ".", "_" or "-"', 'rename the target');
    }
  }
  return Object.keys(targets);
}
