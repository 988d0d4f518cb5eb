/**
 * The IDX format of MNIST and its relatives, as far as it can be checked without reading the data: headers
 * (magic, type, dimensions), their sizes against the file, and what an images/labels pair must be. Kept apart
 * from reading (idx.ts) so the CLI can refuse a bad data set before it loads tfjs or starts a run.
 */
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { SlimnetError } from '../errors.ts';
import { openRegularFile } from '../io/model-files.ts';
import { concatTyped } from '../typed-arrays.ts';

type Invalid = (message: string, hint?: string) => SlimnetError;

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

export interface TypeInfo { name: IdxType; bytes: number; make: (n: number) => IdxData; read: (v: DataView, offset: number) => number }

export const IDX_TYPES: ReadonlyMap<number, TypeInfo> = new Map<number, TypeInfo>([
  [0x08, { name: 'ubyte', bytes: 1, make: (n) => new Uint8Array(n), read: (v, o) => v.getUint8(o) }],
  [0x09, { name: 'byte', bytes: 1, make: (n) => new Int8Array(n), read: (v, o) => v.getInt8(o) }],
  [0x0b, { name: 'short', bytes: 2, make: (n) => new Int16Array(n), read: (v, o) => v.getInt16(o) }],
  [0x0c, { name: 'int', bytes: 4, make: (n) => new Int32Array(n), read: (v, o) => v.getInt32(o) }],
  [0x0d, { name: 'float', bytes: 4, make: (n) => new Float32Array(n), read: (v, o) => v.getFloat32(o) }],
  [0x0e, { name: 'double', bytes: 8, make: (n) => new Float64Array(n), read: (v, o) => v.getFloat64(o) }],
]);

/** What to do about a file whose bytes are not a consistent IDX file. */
export const DAMAGED = 'the file is damaged or not an IDX file: re-download or re-create it';

export const hex = (b: number) => `0x${b.toString(16).padStart(2, '0')}`;

/** Values slimnet holds in memory per file (typed arrays and their float32 copies stay addressable). */
export const MAX_IDX_VALUES = 2 ** 31 - 1;
/** Deflate cannot compress better than about 1032:1, so a .gz file cannot hold more than this many bytes per byte. */
export const MAX_DEFLATE_RATIO = 1032;
/** The largest header: 4 bytes, then 4 per dimension (at most 255). */
export const MAX_HEADER = 4 + 4 * 255;

export interface IdxHeader {
  type: TypeInfo;
  dims: number[];
  headerBytes: number;
  count: number;
  dataBytes: number;
}

/** The header at the start of `bytes`, or undefined if more bytes are needed. Checks magic, type and sizes. */
export function parseHeader(bytes: Uint8Array, invalid: Invalid): IdxHeader | undefined {
  if (bytes.length >= 2 && (bytes[0] !== 0 || bytes[1] !== 0)) {
    throw invalid(`bad magic number: starts with ${hex(bytes[0]!)} ${hex(bytes[1]!)}, IDX files start with 0x00 0x00`, 'is this an IDX file?');
  }
  if (bytes.length < 4) return undefined;
  const type = IDX_TYPES.get(bytes[2]!);
  if (!type) {
    throw invalid(`unknown IDX type code ${hex(bytes[2]!)}`, `known codes: ${[...IDX_TYPES].map(([c, t]) => `${hex(c)} ${t.name}`).join(', ')}`);
  }
  const rank = bytes[3]!;
  if (rank === 0) throw invalid('IDX header declares 0 dimensions');
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, headerBytes);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const count = dims.reduce((a, b) => a * b, 1);
  if (count > MAX_IDX_VALUES) {
    throw invalid(`dims [${dims}] declare ${count} values; slimnet holds data in memory and reads at most ${MAX_IDX_VALUES} per file`,
      'check the header, or split the data set');
  }
  return { type, dims, headerBytes, count, dataBytes: count * type.bytes };
}

/** Where an IDX stream's bytes come from: a raw file of known size, or a gzip file (a bound on what it can inflate to). */
export type IdxSource = { exactTotal: number } | { maxTotal: number; describe: string };

/** The declared data against what the source can hold: a raw file must hold exactly that much, a gzip file no less. */
export function checkDeclaredSize(header: IdxHeader, source: IdxSource, invalid: Invalid): void {
  const { dims, type, headerBytes, dataBytes } = header;
  if ('exactTotal' in source) {
    const actual = source.exactTotal - headerBytes;
    if (actual < dataBytes) throw invalid(`truncated data: dims [${dims}] of ${type.name} need ${dataBytes} bytes but only ${actual} follow the header`);
    if (actual > dataBytes) throw invalid(`${actual - dataBytes} unexpected trailing bytes after the data (dims [${dims}] of ${type.name} need ${dataBytes})`);
  } else if (headerBytes + dataBytes > source.maxTotal) {
    throw invalid(`dims [${dims}] of ${type.name} declare ${dataBytes} bytes of data, more than ${source.describe} can hold`, 'the header is corrupt');
  }
}

/** The error for a stream that ended before its header did. */
export function incompleteHeader(head: Uint8Array, invalid: Invalid): SlimnetError {
  if (head.length < 4) return invalid(`too short for an IDX header (${head.length} bytes)`);
  return invalid(`truncated header: ${head[3]} dimensions need ${4 + 4 * head[3]!} bytes, file has ${head.length}`);
}

export const isGzip = (bytes: Uint8Array) => bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;

/** The most a gzip file of `compressedBytes` can inflate to. */
export const gzipSource = (compressedBytes: number): IdxSource => ({
  maxTotal: compressedBytes * MAX_DEFLATE_RATIO + MAX_HEADER,
  describe: `a ${compressedBytes}-byte gzip file`,
});

/**
 * Inflates a gzip stream chunk by chunk into `take`, which returns true when it has what it needs. Inflating stops
 * at once when `take` stops or throws (a bomb, or more data than a header declares); damaged gzip is DATA_INVALID.
 */
export async function inflateInto(compressed: Readable, invalid: Invalid, take: (chunk: Uint8Array) => boolean | void): Promise<void> {
  const gunzip = createGunzip();
  const inflated = compressed.pipe(gunzip);
  compressed.on('error', (e) => gunzip.destroy(e));
  try {
    for await (const chunk of inflated) if (take(chunk as Uint8Array)) return;
  } catch (e) {
    if (e instanceof SlimnetError) throw e;
    throw invalid(`corrupt gzip data: ${(e as Error).message}`, 're-download or re-compress the file');
  } finally {
    gunzip.destroy();
    compressed.destroy();
  }
}

export const idxInvalid = (file: string): Invalid => (message, hint = DAMAGED) => new SlimnetError('DATA_INVALID', file, message, hint);

/**
 * The header of an IDX file (raw or gzip) checked against the file's size, reading only the header: a raw file's
 * first bytes, or the first inflated chunk of a gzip file. What `readIdxFile` checks before it reads the data.
 */
export async function readIdxHeader(file: string): Promise<IdxHeader> {
  const invalid = idxInvalid(file);
  const { handle, size } = await openRegularFile(file, 'IDX file', { missing: 'DATA_NOT_FOUND', invalid: 'DATA_INVALID' }, 'check the data folder');
  try {
    const head = new Uint8Array(Math.min(size, MAX_HEADER));
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    if (!isGzip(head.subarray(0, bytesRead))) {
      const header = parseHeader(head.subarray(0, bytesRead), invalid);
      if (!header) throw incompleteHeader(head.subarray(0, bytesRead), invalid);
      checkDeclaredSize(header, { exactTotal: size }, invalid);
      return header;
    }
    let inflated: Uint8Array = new Uint8Array(0);
    let header: IdxHeader | undefined;
    await inflateInto(handle.createReadStream({ start: 0, autoClose: false }), invalid, (chunk) => {
      inflated = concatTyped([inflated, chunk], Uint8Array);
      header = parseHeader(inflated, invalid);
      return header !== undefined || inflated.length >= MAX_HEADER;
    });
    if (!header) throw incompleteHeader(inflated, invalid);
    checkDeclaredSize(header, gzipSource(size), invalid);
    return header;
  } finally {
    await handle.close();
  }
}

/** What slimnet reads as images: a count, then rows × cols (one channel) or rows × cols × channels. */
export function sampleShapeOf(dims: number[]): number[] {
  const rest = dims.slice(1);
  return rest.length === 2 ? [...rest, 1] : rest;
}

/**
 * What an images/labels pair must be, from their headers alone: labels one-dimensional, images of 2 to 4
 * dimensions in a type slimnet reads, as many labels as images, and at least one image.
 */
export function checkPairHeaders(images: { dims: number[]; type: IdxType }, imagesFile: string, labels: { dims: number[] }, labelsFile: string): void {
  if (labels.dims.length !== 1) {
    throw new SlimnetError('DATA_INVALID', labelsFile, `labels must have 1 dimension, got [${labels.dims}]`, 'labels are class indices 0 … classes−1');
  }
  const invalid = idxInvalid(imagesFile);
  if (images.dims.length < 2 || images.dims.length > 4) throw invalid(`images must have 2 to 4 dimensions (count first), got [${images.dims}]`);
  if (!['ubyte', 'float', 'double', 'byte', 'short', 'int'].includes(images.type)) {
    throw invalid(`images of type ${images.type} are not supported`, 'slimnet reads ubyte images (raw 0–255, scaled by data.scale, default 1/255), float/double images or byte/short/int values such as token ids (data.scale default 1)');
  }
  if (labels.dims[0] !== images.dims[0]) {
    throw new SlimnetError('DATA_INVALID', labelsFile, `${labels.dims[0]} labels but ${imagesFile} holds ${images.dims[0]} images`,
      'the images and labels files must come from the same set');
  }
  if (images.dims[0] === 0) throw invalid('holds no images', 'an IDX images file needs at least one image');
}
