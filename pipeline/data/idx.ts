import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { SlimnetError } from '../errors.ts';
import { openRegularFile } from '../io/model-files.ts';
import { concatTyped } from '../typed-arrays.ts';
import { forEachSlice } from '../yield.ts';
import {
  checkDeclaredSize, checkPairHeaders, gzipSource, idxInvalid, incompleteHeader, inflateInto, isGzip, parseHeader, readIdxHeader, sampleShapeOf,
  type IdxHeader, type IdxSource, type IdxType,
} from './idx-header.ts';
import { byteTable, resolveScaling, scaleInPlace, type Scaling, type ScalingSpec } from './scaling.ts';
import type { LabelledSet } from './types.ts';

export { IDX_TYPES, MAX_IDX_VALUES, type IdxType } from './idx-header.ts';
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  dims: number[];
  type: IdxType;
  data: IdxData;
}

const CHUNK = 4 * 1024 * 1024;

/**
 * Collects an IDX byte stream chunk by chunk. The header is checked as soon as it is complete, against the most
 * bytes the source can hold (`exactTotal` for a raw file, a bound for gzip) before anything is allocated for the
 * data; the data buffer then grows with what actually arrives and never past what the header declares.
 */
class IdxCollector {
  private head: Uint8Array = new Uint8Array(0);
  private header?: IdxHeader;
  private data: Uint8Array = new Uint8Array(0);
  private filled = 0;

  constructor(
    private readonly invalid: (message: string, hint?: string) => SlimnetError,
    private readonly source: IdxSource,
  ) {}

  push(chunk: Uint8Array): void {
    if (!this.header) {
      this.head = concatTyped([this.head, chunk], Uint8Array);
      const header = parseHeader(this.head, this.invalid);
      if (!header) return;
      this.start(header);
      chunk = this.head.subarray(header.headerBytes);
      this.head = new Uint8Array(0);
    }
    const { dataBytes, dims, type } = this.header!;
    if (this.filled + chunk.length > dataBytes) {
      throw this.invalid(`more data than its dims [${dims}] of ${type.name} declare (${dataBytes} bytes); stopped reading`, 'the header does not match the data');
    }
    if (this.filled + chunk.length > this.data.length) {
      const grown = new Uint8Array(Math.min(dataBytes, Math.max(this.filled + chunk.length, this.data.length * 2, CHUNK)));
      grown.set(this.data.subarray(0, this.filled));
      this.data = grown;
    }
    this.data.set(chunk, this.filled);
    this.filled += chunk.length;
  }

  private start(header: IdxHeader): void {
    checkDeclaredSize(header, this.source, this.invalid);
    if ('exactTotal' in this.source) this.data = new Uint8Array(header.dataBytes);
    this.header = header;
  }

  async finish(): Promise<IdxArray> {
    if (!this.header) throw incompleteHeader(this.head, this.invalid);
    const { dims, type, count, dataBytes } = this.header;
    if (this.filled < dataBytes) {
      throw this.invalid(`truncated data: dims [${dims}] of ${type.name} need ${dataBytes} bytes but only ${this.filled} follow the header`);
    }
    const bytes = this.data.subarray(0, dataBytes);
    if (type.bytes === 1) {
      const data = type.make(count);
      data.set(type.name === 'byte' ? new Int8Array(bytes.buffer, bytes.byteOffset, count) : bytes);
      return { dims, type: type.name, data };
    }
    const data = type.make(count);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    await forEachSlice(count, (start, end) => {
      for (let i = start; i < end; i++) data[i] = type.read(view, i * type.bytes);
    });
    return { dims, type: type.name, data };
  }
}

/** Parses IDX bytes held in memory (raw or gzip, told apart by the gzip magic 1f 8b). `where` names the source. */
export async function parseIdx(bytes: Uint8Array, where: string): Promise<IdxArray> {
  const invalid = idxInvalid(where);
  if (isGzip(bytes)) return readGzip(Readable.from([bytes]), bytes.length, invalid);
  const collector = new IdxCollector(invalid, { exactTotal: bytes.length });
  collector.push(bytes);
  return collector.finish();
}

async function readGzip(compressed: Readable, compressedBytes: number, invalid: (message: string, hint?: string) => SlimnetError): Promise<IdxArray> {
  const collector = new IdxCollector(invalid, gzipSource(compressedBytes));
  await inflateInto(compressed, invalid, (chunk) => collector.push(chunk));
  return collector.finish();
}

/** Reads an IDX file (raw or gzip): a regular file, its header checked against its size before the data are read. */
export async function readIdxFile(path: string): Promise<IdxArray> {
  const invalid = idxInvalid(path);
  const { handle, size } = await openRegularFile(path, 'IDX file', { missing: 'DATA_NOT_FOUND', invalid: 'DATA_INVALID' }, 'check the data folder');
  try {
    const magic = new Uint8Array(2);
    await handle.read(magic, 0, Math.min(2, size), 0);
    if (size >= 2 && isGzip(magic)) return await readGzip(handle.createReadStream({ start: 0, autoClose: false }), size, invalid);
    const collector = new IdxCollector(invalid, { exactTotal: size });
    const buffer = new Uint8Array(Math.min(CHUNK, Math.max(size, 1)));
    for (let position = 0; position < size; ) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, size - position), position);
      if (bytesRead === 0) throw invalid(`ended after ${position} of ${size} bytes while being read`, 'the file changed while slimnet read it; try again');
      collector.push(buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
    return await collector.finish();
  } finally {
    await handle.close();
  }
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

/** What an IDX images file stores: 8-bit values (0–255) or floats. */
export type IdxRaw = 'uint8' | 'float';

/** Images as float32 (raw · scale + offset); their header was checked by checkPairHeaders (rank, type). */
async function imagesFrom(arr: IdxArray, path: string, scaling?: ScalingSpec): Promise<{ x: Float32Array; sampleShape: number[]; count: number; scaling: Scaling; raw: IdxRaw }> {
  const count = arr.dims[0]!;
  // idx3 is [count, rows, cols] of one channel; idx4 is [count, rows, cols, channels] (NHWC).
  const sampleShape = sampleShapeOf(arr.dims);
  let x: Float32Array;
  let resolved: Scaling;
  if (arr.type === 'ubyte') {
    // x = raw · scale + offset, one table entry per byte value (default scale 1/255: byte / 255 exactly).
    resolved = resolveScaling(scaling, true);
    const table = byteTable(resolved);
    const data = arr.data;
    const scaled = new Float32Array(data.length);
    await forEachSlice(data.length, (start, end) => {
      for (let i = start; i < end; i++) scaled[i] = table[data[i] as number]!;
    });
    x = scaled;
  } else {
    // float or double, or integers (byte/short/int: e.g. [count, steps] token ids for an Embedding), as float32
    const values = arr.data instanceof Float32Array ? arr.data : Float32Array.from(arr.data);
    // Every int32 above 2^24 in magnitude would round to another id as float32.
    const exact = arr.type === 'int';
    let bad = -1;
    await forEachSlice(values.length, (start, end) => {
      for (let i = start; i < end && bad < 0; i++) if (!Number.isFinite(values[i]) || (exact && values[i] !== arr.data[i])) bad = i;
    });
    if (bad >= 0 && exact) throw idxInvalid(path)(`value ${bad} is ${arr.data[bad]}; int values must be within ±2^24 to be held exactly as float32`, 'token ids above 16,777,216 do not fit; remap the vocabulary');
    if (bad >= 0) throw idxInvalid(path)(`image value ${bad} is ${values[bad]}; values must be finite`);
    resolved = resolveScaling(scaling, false);
    scaleInPlace(values, resolved);
    x = values;
  }
  return { x, sampleShape, count, scaling: resolved, raw: arr.type === 'ubyte' ? 'uint8' : 'float' };
}

/** The largest class index slimnet accepts before it knows the model (which then bounds labels further). */
const MAX_LABEL = 2 ** 31 - 2;

async function labelsFrom(arr: IdxArray, path: string): Promise<Int32Array> {
  const invalid = (message: string) => new SlimnetError('DATA_INVALID', path, message, 'labels are class indices 0 … classes−1');
  const data = arr.data;
  const y = new Int32Array(data.length);
  let bad = -1;
  await forEachSlice(y.length, (start, end) => {
    for (let i = start; i < end && bad < 0; i++) {
      const v = data[i] as number;
      if (!Number.isInteger(v) || v < 0 || v > MAX_LABEL) bad = i;
      else y[i] = v;
    }
  });
  if (bad >= 0) throw invalid(`label ${bad} is ${data[bad]}; labels must be non-negative integers (class indices)`);
  return y;
}

async function loadPair(imagesPath: string, labelsPath: string, scaling?: ScalingSpec): Promise<Omit<LabelledSet, 'numClasses'> & { scaling: Scaling; raw: IdxRaw }> {
  const labels = await readIdxFile(labelsPath);
  const imageArray = await readIdxFile(imagesPath);
  checkPairHeaders(imageArray, imagesPath, labels, labelsPath);
  const y = await labelsFrom(labels, labelsPath);
  const images = await imagesFrom(imageArray, imagesPath, scaling);
  return { x: images.x, y, count: images.count, sampleShape: images.sampleShape, scaling: images.scaling, raw: images.raw };
}

export interface IdxFolderSets {
  train: LabelledSet;
  test: LabelledSet;
  /** The labels file of each set, for errors about labels. */
  labelFiles: { train: string; test: string };
  /** The train images' scaling, defaults resolved (each file's defaults follow its own type; an explicit scale applies to both). */
  scaling: Scaling;
  /** What the train images file stores. */
  raw: IdxRaw;
}

/** Loads an MNIST-style IDX folder: images as raw · scale + offset (8-bit images: default 1/255, so [0, 1]), labels as class indices. */
export async function loadIdxFolder(dir: string, scaling?: ScalingSpec): Promise<IdxFolderSets> {
  const files = findIdxFiles(dir);
  const { scaling: trainScaling, raw, ...train } = await loadPair(files.trainImages, files.trainLabels, scaling);
  const { scaling: _testScaling, raw: _testRaw, ...test } = await loadPair(files.testImages, files.testLabels, scaling);
  checkSameSampleShape(train.sampleShape, test.sampleShape, files);
  let maxLabel = 0;
  for (const s of [train, test]) for (const v of s.y) maxLabel = Math.max(maxLabel, v);
  return {
    train: { ...train, numClasses: maxLabel + 1 },
    test: { ...test, numClasses: maxLabel + 1 },
    labelFiles: { train: files.trainLabels, test: files.testLabels },
    scaling: trainScaling,
    raw,
  };
}

function checkSameSampleShape(train: number[], test: number[], files: Record<IdxRole, string>): void {
  if (train.join('x') !== test.join('x')) {
    throw new SlimnetError('DATA_INVALID', files.testImages, `test images are [${test}] but train images (${files.trainImages}) are [${train}]`,
      'the train and test files must come from the same data set');
  }
}

/**
 * An IDX folder checked from its files' headers alone (each file's size against its header, each pair's counts,
 * train and test shapes): what loadIdxFolder would refuse about the files' layout, without reading the data.
 */
export async function checkIdxFolderHeaders(dir: string): Promise<void> {
  const files = findIdxFiles(dir);
  const shapes: number[][] = [];
  for (const [imagesFile, labelsFile] of [[files.trainImages, files.trainLabels], [files.testImages, files.testLabels]] as const) {
    const labels = await readIdxHeader(labelsFile);
    const images = await readIdxHeader(imagesFile);
    checkPairHeaders({ dims: images.dims, type: images.type.name }, imagesFile, labels, labelsFile);
    shapes.push(sampleShapeOf(images.dims));
  }
  checkSameSampleShape(shapes[0]!, shapes[1]!, files);
}

/** `<prefix>-images-idx3-ubyte` / `<prefix>-labels-idx1-ubyte` (dash or dot before "idx", raw or .gz); idx4 images too. */
const PAIR_FILE = /^(.*?)[-_.]?(images|labels)[-.](idx[134])-ubyte(\.gz)?$/;

/**
 * A folder holding one labelled set: one images file and one labels file with the same prefix (e.g.
 * `val-images-idx3-ubyte` and `val-labels-idx1-ubyte`, or just `images-idx3-ubyte`/`labels-idx1-ubyte`), scaled
 * like the training data. Used for a separate validation set (`data.validation`); an MNIST folder with train and
 * t10k pairs is ambiguous.
 */
export async function loadIdxSetFolder(dir: string, scaling?: ScalingSpec): Promise<{ set: Omit<LabelledSet, 'numClasses'>; labelsFile: string; imagesFile: string; raw: IdxRaw }> {
  const { images, labels } = findIdxSetPair(dir);
  const { scaling: _scaling, raw, ...set } = await loadPair(images, labels, scaling);
  return { set, labelsFile: labels, imagesFile: images, raw };
}

/** A validation folder checked from its pair's headers alone (see checkIdxFolderHeaders). */
export async function checkIdxSetFolderHeaders(dir: string): Promise<void> {
  const { images: imagesFile, labels: labelsFile } = findIdxSetPair(dir);
  const labels = await readIdxHeader(labelsFile);
  const images = await readIdxHeader(imagesFile);
  checkPairHeaders({ dims: images.dims, type: images.type.name }, imagesFile, labels, labelsFile);
}

/** The one images/labels pair of a validation folder. */
function findIdxSetPair(dir: string): { images: string; labels: string } {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new SlimnetError('DATA_NOT_FOUND', dir, 'IDX validation folder does not exist or is not a folder');
  }
  const pairs = new Map<string, { images?: string; labels?: string }>();
  for (const name of readdirSync(dir).sort()) {
    const m = PAIR_FILE.exec(name);
    if (!m) continue;
    const entry = pairs.get(m[1]!) ?? {};
    const role = m[2] as 'images' | 'labels';
    // Raw before .gz when both are present (sorted names put the raw one first).
    entry[role] ??= join(dir, name);
    pairs.set(m[1]!, entry);
  }
  const complete = [...pairs].filter(([, p]) => p.images && p.labels);
  if (complete.length !== 1) {
    const listing = readdirSync(dir).sort().slice(0, 10).join(', ') || 'nothing';
    throw new SlimnetError('DATA_NOT_FOUND', dir,
      complete.length === 0 ? 'holds no IDX images/labels pair' : `holds ${complete.length} IDX sets (${complete.map(([p]) => p || '(no prefix)').join(', ')}); a validation folder holds one`,
      `the folder holds ${listing}; expected one <name>-images-idx3-ubyte and one <name>-labels-idx1-ubyte (raw or .gz)`);
  }
  const { images, labels } = complete[0]![1];
  return { images: images!, labels: labels! };
}
