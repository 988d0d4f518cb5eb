import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { SlimnetError } from '../errors.ts';
import type { LabelledSet } from './types.ts';

/**
 * The IDX format of MNIST and its relatives: two zero bytes, a type code, the number of dimensions, then each
 * dimension as a big-endian uint32, then the values big-endian, row-major. Files may be gzipped.
 */
export type IdxType = 'ubyte' | 'byte' | 'short' | 'int' | 'float' | 'double';
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  dims: number[];
  type: IdxType;
  data: IdxData;
}

interface TypeInfo { name: IdxType; bytes: number; make: (n: number) => IdxData; read: (v: DataView, offset: number) => number }

export const IDX_TYPES: ReadonlyMap<number, TypeInfo> = new Map<number, TypeInfo>([
  [0x08, { name: 'ubyte', bytes: 1, make: (n) => new Uint8Array(n), read: (v, o) => v.getUint8(o) }],
  [0x09, { name: 'byte', bytes: 1, make: (n) => new Int8Array(n), read: (v, o) => v.getInt8(o) }],
  [0x0b, { name: 'short', bytes: 2, make: (n) => new Int16Array(n), read: (v, o) => v.getInt16(o) }],
  [0x0c, { name: 'int', bytes: 4, make: (n) => new Int32Array(n), read: (v, o) => v.getInt32(o) }],
  [0x0d, { name: 'float', bytes: 4, make: (n) => new Float32Array(n), read: (v, o) => v.getFloat32(o) }],
  [0x0e, { name: 'double', bytes: 8, make: (n) => new Float64Array(n), read: (v, o) => v.getFloat64(o) }],
]);

const hex = (b: number) => `0x${b.toString(16).padStart(2, '0')}`;

/** Parses IDX bytes (raw or gzip, told apart by the gzip magic 1f 8b). `where` names the source in errors. */
export function parseIdx(bytes: Uint8Array, where: string): IdxArray {
  const invalid = (message: string, hint?: string) => new SlimnetError('DATA_INVALID', where, message, hint);
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw invalid(`corrupt gzip data: ${(e as Error).message}`, 're-download or re-compress the file');
    }
  }
  if (bytes.length < 4) throw invalid(`too short for an IDX header (${bytes.length} bytes)`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw invalid(`bad magic number: starts with ${hex(bytes[0]!)} ${hex(bytes[1]!)}, IDX files start with 0x00 0x00`, 'is this an IDX file?');
  }
  const type = IDX_TYPES.get(bytes[2]!);
  if (!type) {
    throw invalid(`unknown IDX type code ${hex(bytes[2]!)}`, `known codes: ${[...IDX_TYPES].map(([c, t]) => `${hex(c)} ${t.name}`).join(', ')}`);
  }
  const rank = bytes[3]!;
  if (rank === 0) throw invalid('IDX header declares 0 dimensions');
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) throw invalid(`truncated header: ${rank} dimensions need ${headerBytes} bytes, file has ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const count = dims.reduce((a, b) => a * b, 1);
  const expected = count * type.bytes;
  const actual = bytes.length - headerBytes;
  if (actual < expected) {
    throw invalid(`truncated data: dims [${dims}] of ${type.name} need ${expected} bytes but only ${actual} follow the header`);
  }
  if (actual > expected) {
    throw invalid(`${actual - expected} unexpected trailing bytes after the data (dims [${dims}] of ${type.name} need ${expected})`);
  }
  const data = type.make(count);
  if (type.bytes === 1) {
    data.set(bytes.subarray(headerBytes, headerBytes + count));
  } else {
    for (let i = 0; i < count; i++) data[i] = type.read(view, headerBytes + i * type.bytes);
  }
  return { dims, type: type.name, data };
}

export function readIdxFile(path: string): IdxArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new SlimnetError('DATA_NOT_FOUND', path, `cannot read IDX file: ${(e as Error).message}`);
  }
  return parseIdx(bytes, path);
}

/** The four files of an IDX folder; mirrors spell them with a dash or a dot before "idxN", and may gzip them. */
const IDX_FILES = {
  trainImages: ['train-images', 'idx3-ubyte'],
  trainLabels: ['train-labels', 'idx1-ubyte'],
  testImages: ['t10k-images', 'idx3-ubyte'],
  testLabels: ['t10k-labels', 'idx1-ubyte'],
} as const;
type IdxRole = keyof typeof IDX_FILES;

function candidateNames([stem, kind]: readonly [string, string]): string[] {
  // Raw first: when both a file and its .gz are present (gunzip -k), the raw one is faster to read.
  return [`${stem}-${kind}`, `${stem}.${kind}`, `${stem}-${kind}.gz`, `${stem}.${kind}.gz`];
}

/** Paths of the four files in `dir`; DATA_NOT_FOUND naming every missing one. */
export function findIdxFiles(dir: string): Record<IdxRole, string> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new SlimnetError('DATA_NOT_FOUND', dir, 'IDX data folder does not exist or is not a folder');
  }
  const present = new Set(readdirSync(dir));
  const found: Partial<Record<IdxRole, string>> = {};
  const missing: string[] = [];
  for (const role of Object.keys(IDX_FILES) as IdxRole[]) {
    const names = candidateNames(IDX_FILES[role]);
    const name = names.find((n) => present.has(n));
    if (name) found[role] = join(dir, name);
    else missing.push(`${names[0]}[.gz]`);
  }
  if (missing.length > 0) {
    const listing = [...present].sort().slice(0, 10).join(', ') || 'nothing';
    throw new SlimnetError('DATA_NOT_FOUND', dir, `missing IDX files: ${missing.join(', ')}`,
      `the folder holds ${listing}; expected train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (raw or .gz)`);
  }
  return found as Record<IdxRole, string>;
}

function imagesFrom(arr: IdxArray, path: string): { x: Float32Array; sampleShape: number[]; count: number } {
  const invalid = (message: string, hint?: string) => new SlimnetError('DATA_INVALID', path, message, hint);
  const [count, ...rest] = arr.dims as [number, ...number[]];
  if (rest.length < 1 || rest.length > 3) throw invalid(`images must have 2 to 4 dimensions (count first), got [${arr.dims}]`);
  // idx3 is [count, rows, cols] of one channel; idx4 is [count, rows, cols, channels] (NHWC).
  const sampleShape = rest.length === 2 ? [...rest, 1] : rest;
  let x: Float32Array;
  if (arr.type === 'ubyte') {
    x = new Float32Array(arr.data.length);
    for (let i = 0; i < x.length; i++) x[i] = (arr.data[i] as number) / 255;
  } else if (arr.type === 'float' || arr.type === 'double') {
    x = arr.data instanceof Float32Array ? arr.data : Float32Array.from(arr.data);
    const bad = x.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw invalid(`image value ${bad} is ${x[bad]}; values must be finite`);
  } else {
    throw invalid(`images of type ${arr.type} are not supported`, 'slimnet reads ubyte images (scaled by 1/255) or float/double images (used as they are)');
  }
  return { x, sampleShape, count };
}

function labelsFrom(arr: IdxArray, path: string): Int32Array {
  const invalid = (message: string) => new SlimnetError('DATA_INVALID', path, message);
  if (arr.dims.length !== 1) throw invalid(`labels must have 1 dimension, got [${arr.dims}]`);
  const y = new Int32Array(arr.data.length);
  for (let i = 0; i < y.length; i++) {
    const v = arr.data[i] as number;
    if (!Number.isInteger(v) || v < 0) throw invalid(`label ${i} is ${v}; labels must be non-negative integers (class indices)`);
    y[i] = v;
  }
  return y;
}

function loadPair(imagesPath: string, labelsPath: string): Omit<LabelledSet, 'numClasses'> {
  const images = imagesFrom(readIdxFile(imagesPath), imagesPath);
  const y = labelsFrom(readIdxFile(labelsPath), labelsPath);
  if (y.length !== images.count) {
    throw new SlimnetError('DATA_INVALID', labelsPath, `${y.length} labels but ${imagesPath} holds ${images.count} images`,
      'the images and labels files must come from the same set');
  }
  if (images.count === 0) throw new SlimnetError('DATA_INVALID', imagesPath, 'holds no images');
  return { x: images.x, y, count: images.count, sampleShape: images.sampleShape };
}

/** Loads an MNIST-style IDX folder: images scaled to [0, 1], labels as class indices. */
export function loadIdxFolder(dir: string): { train: LabelledSet; test: LabelledSet } {
  const files = findIdxFiles(dir);
  const train = loadPair(files.trainImages, files.trainLabels);
  const test = loadPair(files.testImages, files.testLabels);
  if (train.sampleShape.join('x') !== test.sampleShape.join('x')) {
    throw new SlimnetError('DATA_INVALID', files.testImages, `test images are [${test.sampleShape}] but train images (${files.trainImages}) are [${train.sampleShape}]`);
  }
  let maxLabel = 0;
  for (const s of [train, test]) for (const v of s.y) maxLabel = Math.max(maxLabel, v);
  return { train: { ...train, numClasses: maxLabel + 1 }, test: { ...test, numClasses: maxLabel + 1 } };
}
