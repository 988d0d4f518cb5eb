/**
 * Seeded mutations of Keras inputs for the fuzz test. A Keras case starts from a description — the model config
 * (config.json of a `.keras`, model_config of a legacy `.h5`), the `.keras` metadata and the weight variables —
 * that description edits change before the file is written with the Keras-layout fixture writers; byte edits then
 * damage the written file (or a `.keras` archive's weights member) the way truncation, bit rot or a hostile
 * author would: headers, addresses, sizes, runs of zeros. Each says what it did.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { unzipSync, zipSync } from 'fflate';
import type { Rng } from '../../pipeline/random.ts';
import { keras2Config, keras3Config, makeWeights, type ModelSpec, type Variable } from '../fixtures/keras/spec.ts';
import { keras3WeightsH5, legacyH5 } from '../fixtures/keras/write.ts';
import { cutText, jsonEdits, pick, type Json } from './json-edits.ts';

export type KerasKind = 'keras' | 'h5';

export interface KerasDescription {
  kind: KerasKind;
  spec: ModelSpec;
  /** config.json (`.keras`) or model_config (`.h5`); a string once an edit has cut it. */
  config: Json | string;
  /** metadata.json of a `.keras` (keras_version). */
  metadata: Json;
  weights: Map<string, Variable[]>;
}

export function describeKeras(kind: KerasKind, spec: ModelSpec): KerasDescription {
  return {
    kind,
    spec,
    config: (kind === 'keras' ? keras3Config(spec) : keras2Config(spec)) as Json,
    metadata: { keras_version: '3.6.0', date_saved: '2026-01-01@00:00:00' },
    weights: makeWeights(spec, 7),
  };
}

const text = (v: Json | string) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));

/** Writes the description as Keras would have saved it: a `.keras` zip (stored members) or a legacy `.h5`. */
export async function writeKeras(d: KerasDescription, file: string): Promise<void> {
  if (d.kind === 'h5') {
    writeFileSync(file, await legacyH5(d.spec, d.weights, 'keras2', { config: d.config }));
    return;
  }
  writeFileSync(file, zipSync({
    'metadata.json': text(d.metadata),
    'config.json': text(d.config),
    'model.weights.h5': await keras3WeightsH5(d.spec, d.weights),
  }, { level: 0 }));
}

type DescriptionEdit = (d: KerasDescription, rng: Rng) => string;

/** The model config: every generic JSON edit, a cut text, and (.keras) the metadata's Keras version. */
export const kerasConfigEdits: Record<string, DescriptionEdit> = {
  ...Object.fromEntries(Object.entries(jsonEdits).map(([name, edit]) => [name, (d: KerasDescription, rng: Rng) => {
    if (typeof d.config === 'string') return 'config already cut';
    return edit(d.config, rng);
  }])),
  cutConfig: (d, rng) => {
    const { text: cut, what } = cutText(typeof d.config === 'string' ? d.config : JSON.stringify(d.config), rng);
    d.config = cut;
    return `config ${what}`;
  },
  kerasVersion: (d, rng) => {
    const v = pick<Json>(rng, ['2.15.0', '1.0', '3.99.0', 'x', 3, null, '']);
    (d.metadata as Record<string, Json>).keras_version = v;
    return `keras_version → ${JSON.stringify(v)}`;
  },
};

function someVariable(d: KerasDescription, rng: Rng): { layer: string; vars: Variable[]; i: number } | undefined {
  const layers = [...d.weights].filter(([, vars]) => vars.length > 0);
  if (layers.length === 0) return undefined;
  const [layer, vars] = pick(rng, layers);
  return { layer, vars, i: rng.int(vars.length) };
}

const randomValues = (shape: number[], rng: Rng) => Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.next() - 0.5);

/** The weight variables: values, shapes, storage types, missing and extra variables, a shape bomb. */
export const kerasWeightEdits: Record<string, DescriptionEdit> = {
  nonFinite: (d, rng) => {
    const v = someVariable(d, rng);
    if (!v) return 'no variables';
    const value = pick(rng, [NaN, Infinity, -Infinity, 3.4e38]);
    const values = v.vars[v.i]!.values;
    if (values.length > 0) values[rng.int(values.length)] = value;
    return `a value of ${v.layer}[${v.i}] → ${value}`;
  },
  reshape: (d, rng) => {
    const v = someVariable(d, rng);
    if (!v) return 'no variables';
    const shape = v.vars[v.i]!.shape;
    const next = pick(rng, [[...shape].reverse(), shape.slice(1), [...shape, 1], shape.map((s, j) => (j === 0 ? s + 1 : s)), [], [0]]);
    v.vars[v.i] = { shape: next, values: randomValues(next, rng) };
    return `${v.layer}[${v.i}] shape [${shape}] → [${next}]`;
  },
  dropVariable: (d, rng) => {
    const v = someVariable(d, rng);
    if (!v) return 'no variables';
    v.vars.splice(v.i, 1);
    return `${v.layer}[${v.i}] removed`;
  },
  extraVariable: (d, rng) => {
    const v = someVariable(d, rng);
    if (!v) return 'no variables';
    v.vars.push({ shape: [3], values: randomValues([3], rng) });
    return `${v.layer} gets an extra variable`;
  },
  dropLayer: (d, rng) => {
    const v = someVariable(d, rng);
    if (!v) return 'no variables';
    d.weights.delete(v.layer);
    return `${v.layer}'s weights removed`;
  },
  swapLayers: (d, rng) => {
    const names = [...d.weights.keys()];
    const [a, b] = [pick(rng, names), pick(rng, names)];
    const wa = d.weights.get(a)!;
    d.weights.set(a, d.weights.get(b)!);
    d.weights.set(b, wa);
    return `weights of ${a} and ${b} swapped`;
  },
  storage: (d, rng) => {
    const v = someVariable(d, rng);
    if (!v) return 'no variables';
    const dtype = pick(rng, ['<d', '<i', 'B'] as const);
    v.vars[v.i] = { ...v.vars[v.i]!, dtype };
    return `${v.layer}[${v.i}] stored as ${dtype}`;
  },
  shapeBomb: (d, rng) => {
    const v = someVariable(d, rng);
    if (!v) return 'no variables';
    const shape = v.vars[v.i]!.shape;
    const declared = pick(rng, [shape.map(() => 100000), shape.map((s) => s * 1000), shape.map((s, j) => (j === 0 ? 2 ** 31 : s))]);
    v.vars[v.i] = { ...v.vars[v.i]!, declaredShape: declared };
    return `${v.layer}[${v.i}] declares shape [${declared}]`;
  },
};

/** Byte damage to a whole file's bytes, in place; returns what it did. */
const byteEdits: Record<string, (b: Uint8Array, rng: Rng) => { bytes: Uint8Array; what: string }> = {
  truncate: (b, rng) => {
    const to = rng.int(b.length);
    return { bytes: b.subarray(0, to), what: `cut to ${to} of ${b.length} bytes` };
  },
  bitFlips: (b, rng) => {
    const n = 1 + rng.int(8);
    for (let i = 0; i < n; i++) b[rng.int(b.length)] ^= 1 << rng.int(8);
    return { bytes: b, what: `${n} bit flips` };
  },
  headerFlips: (b, rng) => {
    // Superblock, root group and the first object headers: addresses, sizes, versions, message types.
    const n = 1 + rng.int(4);
    for (let i = 0; i < n; i++) b[rng.int(Math.min(b.length, 2048))] ^= 1 << rng.int(8);
    return { bytes: b, what: `${n} bit flips in the first 2 KB` };
  },
  overwrite: (b, rng) => {
    const at = rng.int(Math.max(1, b.length - 8));
    const fill = pick(rng, [0xff, 0x7f, 0x00, -1]);
    for (let i = at; i < Math.min(b.length, at + 8); i++) b[i] = fill < 0 ? rng.int(256) : fill;
    return { bytes: b, what: `8 bytes at ${at} → ${fill < 0 ? 'random' : `0x${fill.toString(16)}`}` };
  },
  zeroRun: (b, rng) => {
    const at = rng.int(b.length);
    const n = 16 + rng.int(240);
    b.fill(0, at, at + n);
    return { bytes: b, what: `${n} bytes zeroed at ${at}` };
  },
};

/** Damages the written file: the file as a whole, or (a `.keras`) one of the archive's members, rezipped. */
export const kerasByteMutations: Record<string, (file: string, kind: KerasKind, rng: Rng) => string> = Object.fromEntries(
  Object.entries(byteEdits).map(([name, edit]) => [name, (file: string, kind: KerasKind, rng: Rng) => {
    const bytes = new Uint8Array(readFileSync(file));
    if (kind === 'keras' && rng.next() < 0.6) {
      const members = unzipSync(bytes);
      const member = rng.next() < 0.8 ? 'model.weights.h5' : pick(rng, Object.keys(members));
      const { bytes: damaged, what } = edit(members[member]!, rng);
      members[member] = new Uint8Array(damaged);
      writeFileSync(file, zipSync(members, { level: 0 }));
      return `${member}: ${what}`;
    }
    const { bytes: damaged, what } = edit(bytes, rng);
    writeFileSync(file, damaged);
    return what;
  }]),
);
