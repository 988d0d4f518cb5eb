/**
 * Seeded mutations of a TF.js model for the fuzz test: model.json (the generic JSON edits, plus the weights
 * manifest's shapes, dtypes, quantisation, names and paths, and truncation) and its weight shards (truncate,
 * extend, bit flips, NaN/Inf, random bytes). Each edits the case folder in place and says what it did.
 */
import { readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Rng } from '../../pipeline/random.ts';
import { cutText, jsonEdits, pick, type Json } from './json-edits.ts';
import type { CaseFiles, Mutation } from './mutate.ts';

const DTYPES = ['float32', 'int32', 'uint8', 'float16', 'bool', 'string', 'complex64', 'float64', '', 'FLOAT32'];

function editJson(file: string, edit: (json: any) => string): string {
  const json = JSON.parse(readFileSync(file, 'utf8'));
  const what = edit(json);
  writeFileSync(file, JSON.stringify(json));
  return what;
}

export const modelJsonMutations: Record<string, Mutation> = {
  ...Object.fromEntries(Object.entries(jsonEdits).map(([name, edit]) => [name, (c: CaseFiles, rng: Rng) => editJson(c.model, (json) => edit(json, rng))])),
  manifestShape: (c, rng) => editJson(c.model, (json) => {
    const weights: any[] = (json.weightsManifest ?? []).flatMap((g: any) => g?.weights ?? []);
    if (weights.length === 0) return 'no weights';
    const w = pick(rng, weights);
    const shape: number[] = Array.isArray(w.shape) ? [...w.shape] : [];
    const edits: Array<() => Json> = [
      () => shape.map((d, i) => (i === 0 ? d + 1 : d)),
      () => [...shape].reverse(),
      () => shape.slice(1),
      () => [...shape, 1],
      () => [...shape, 2],
      () => shape.map((d) => -d),
      () => [100000, 100000, 100000],
      () => [2 ** 40],
      () => shape.map((d) => d + 0.5),
      () => 'shape',
      () => null,
      () => [shape.reduce((a, b) => a * b, 1)],
    ];
    const i = rng.int(edits.length);
    w.shape = edits[i]!();
    return `shape of ${w.name} → ${JSON.stringify(w.shape)}`;
  }),
  manifestDtype: (c, rng) => editJson(c.model, (json) => {
    const weights: any[] = (json.weightsManifest ?? []).flatMap((g: any) => g?.weights ?? []);
    if (weights.length === 0) return 'no weights';
    const w = pick(rng, weights);
    if (rng.next() < 0.3) {
      w.quantization = pick(rng, [{ dtype: 'uint8', scale: 0.01, min: -1 }, { dtype: 'float16' }, { dtype: 'int4' }, { dtype: 'uint8' }, { dtype: 'uint16', scale: -1, min: 1e39 }] as Json[]);
      return `quantization of ${w.name} → ${JSON.stringify(w.quantization)}`;
    }
    w.dtype = pick(rng, DTYPES);
    return `dtype of ${w.name} → ${w.dtype}`;
  }),
  manifestName: (c, rng) => editJson(c.model, (json) => {
    const weights: any[] = (json.weightsManifest ?? []).flatMap((g: any) => g?.weights ?? []);
    if (weights.length < 2) return 'no weights';
    const a = pick(rng, weights);
    const b = pick(rng, weights);
    const choice = rng.int(3);
    if (choice === 0) [a.name, b.name] = [b.name, a.name];
    else if (choice === 1) a.name = `${a.name}x`;
    else a.name = b.name;
    return `weight names: ${a.name}, ${b.name}`;
  }),
  manifestPath: (c, rng) => editJson(c.model, (json) => {
    const group = json.weightsManifest?.[0];
    if (!group) return 'no group';
    group.paths = [pick<Json>(rng, ['../../../../etc/passwd', '/etc/passwd', 'missing.bin', '', '.', '..', 'model.json', 'a/../../x.bin', 'group1-shard1of1.bin', 42])];
    return `paths → ${JSON.stringify(group.paths)}`;
  }),
  truncateJson: (c, rng) => {
    const { text, what } = cutText(readFileSync(c.model, 'utf8'), rng);
    writeFileSync(c.model, text);
    return `model.json ${what}`;
  },
};

function shardFiles(c: CaseFiles): string[] {
  return readdirSync(c.modelDir).filter((n) => n.endsWith('.bin')).map((n) => path.join(c.modelDir, n));
}

export const shardMutations: Record<string, Mutation> = {
  truncate: (c, rng) => {
    const f = pick(rng, shardFiles(c));
    const bytes = readFileSync(f);
    const to = rng.int(bytes.length);
    truncateSync(f, to);
    return `shard cut to ${to} bytes`;
  },
  extend: (c, rng) => {
    const f = pick(rng, shardFiles(c));
    const bytes = readFileSync(f);
    const extra = new Uint8Array(1 + rng.int(64)).map(() => rng.int(256));
    writeFileSync(f, Buffer.concat([bytes, extra]));
    return `shard extended by ${extra.length} bytes`;
  },
  bitFlips: (c, rng) => {
    const f = pick(rng, shardFiles(c));
    const bytes = readFileSync(f);
    const flips = 1 + rng.int(8);
    for (let i = 0; i < flips; i++) bytes[rng.int(bytes.length)] ^= 1 << rng.int(8);
    writeFileSync(f, bytes);
    return `${flips} bit flips in a shard`;
  },
  nonFinite: (c, rng) => {
    const f = pick(rng, shardFiles(c));
    const bytes = readFileSync(f);
    const value = pick(rng, [NaN, Infinity, -Infinity, 3.4e38, -3.4e38, 1e-45]);
    bytes.writeFloatLE(value, 4 * rng.int(Math.floor(bytes.length / 4)));
    writeFileSync(f, bytes);
    return `a weight set to ${value}`;
  },
  randomBytes: (c, rng) => {
    const f = pick(rng, shardFiles(c));
    const bytes = readFileSync(f).map(() => rng.int(256));
    writeFileSync(f, bytes);
    return 'shard replaced by random bytes';
  },
};
