/**
 * Read-only HDF5 access for Keras files through h5wasm (the HDF5 C library compiled to WebAssembly).
 *
 * The file's bytes are handed to h5wasm's in-memory file system (no copy), so nothing is read outside the file
 * the user named. Every libhdf5 failure becomes a one-line SlimnetError naming the file and the object: libhdf5
 * reports errors as a diagnostic stack on stderr and a negative id, so the stack is captured (never printed) and
 * its most specific line is quoted. Datasets are read in bounded slices, and no dataset may declare more bytes
 * than the file could hold (a shape bomb is an error, not an allocation).
 */
import { randomBytes } from 'node:crypto';
import { SlimnetError } from '../../errors.ts';
import { float16BitsToFloat32 } from '../float16.ts';

type H5wasm = typeof import('h5wasm');
type H5Module = Awaited<H5wasm['ready']>;

/** Lines libhdf5 writes to stderr while an operation runs; collected to explain a failure. */
let diagnostics: string[] = [];
let loading: Promise<{ h5: H5wasm; module: H5Module }> | undefined;

/**
 * h5wasm binds its stderr writer to console.error when it is first imported; routing that writer into
 * `diagnostics` keeps libhdf5's multi-line error stacks off the user's terminal. Import h5wasm only through here.
 */
export function loadH5wasm(): Promise<{ h5: H5wasm; module: H5Module }> {
  loading ??= (async () => {
    const original = console.error;
    console.error = (...args: unknown[]) => {
      diagnostics.push(args.map(String).join(' '));
      if (diagnostics.length > 200) diagnostics = diagnostics.slice(-100);
    };
    try {
      const h5 = await import('h5wasm');
      const module = await h5.ready;
      return { h5, module };
    } finally {
      console.error = original;
    }
  })();
  return loading;
}

/** The most telling line of libhdf5's error stack: the innermost frame's message, e.g. "truncated file: eof = …". */
function lastDiagnostic(): string | undefined {
  const frames = diagnostics.filter((l) => /^\s*#\d+:/.test(l));
  const innermost = frames[frames.length - 1];
  if (!innermost) return undefined;
  return innermost.replace(/^\s*#\d+:\s*\S+ line \d+ in [\w.]+\(\):\s*/, '').trim();
}

export interface DatasetValue {
  shape: number[];
  values: Float32Array;
  /** The stored element type, e.g. `float32`, `float16`, `bfloat16`, `int64`. */
  dtype: string;
}

const H5T_INTEGER = 0;
const H5T_FLOAT = 1;
const H5T_STRING = 3;
const H5T_OPAQUE = 5;
/** Bytes read per slice: bounds the wasm heap whatever the dataset's size. */
const SLICE_BYTES = 16 << 20;

export class Hdf5File {
  private constructor(
    private readonly h5: H5wasm,
    private readonly module: H5Module,
    private readonly file: InstanceType<H5wasm['File']>,
    private readonly memPath: string,
    /** The user's file, for messages. */
    readonly where: string,
    private readonly byteLength: number,
  ) {}

  /** Opens HDF5 bytes (the whole file, or a Keras zip's weights entry). `where` names it in errors. */
  static async open(bytes: Uint8Array, where: string): Promise<Hdf5File> {
    const { h5, module } = await loadH5wasm();
    const memPath = `/slimnet-${randomBytes(6).toString('hex')}.h5`;
    module.FS.writeFile(memPath, bytes, { canOwn: true } as never);
    diagnostics = [];
    let file: InstanceType<H5wasm['File']> | undefined;
    try {
      file = new h5.File(memPath, 'r');
    } catch (e) {
      file = undefined;
      diagnostics.push(`#0: x line 0 in f(): ${(e as Error).message}`);
    }
    if (!file || file.file_id < 0n) {
      module.FS.unlink(memPath);
      throw new SlimnetError('MODEL_INVALID', where, `is not a readable HDF5 file (${lastDiagnostic() ?? 'libhdf5 could not open it'})`,
        'the file is truncated or corrupt; save the model again');
    }
    return new Hdf5File(h5, module, file, memPath, where, bytes.length);
  }

  close(): void {
    try {
      this.file.close();
    } finally {
      this.module.FS.unlink(this.memPath);
    }
  }

  /** Runs an h5wasm call; a libhdf5 failure (a throw or an error stack) becomes a SlimnetError naming `object`. */
  private guard<T>(object: string, call: () => T): T {
    diagnostics = [];
    let result: T;
    try {
      result = call();
    } catch (e) {
      if (e instanceof SlimnetError) throw e;
      throw this.corrupt(object, lastDiagnostic() ?? (e as Error)?.message ?? String(e));
    }
    const diag = lastDiagnostic();
    if (diag) throw this.corrupt(object, diag);
    return result;
  }

  private corrupt(object: string, detail: string): SlimnetError {
    return new SlimnetError('MODEL_INVALID', this.where, `cannot read HDF5 ${object} (${detail})`, 'the file is truncated or corrupt; save the model again');
  }

  /** 'Group', 'Dataset', another h5wasm kind, or undefined when nothing is at `path` (links are not followed out of the file). */
  kind(path: string): string | undefined {
    return this.guard(`object "${path}"`, () => {
      const type = this.file.get(path) as { type?: string } | null;
      return type?.type;
    });
  }

  /** Names of a group's members, in the file's order. */
  children(path: string): string[] {
    return this.guard(`group "${path}"`, () => {
      const group = this.file.get(path);
      if (!group || (group as { type?: string }).type !== 'Group') throw this.corrupt(`group "${path}"`, 'it is not a group');
      return (group as InstanceType<H5wasm['Group']>).keys();
    });
  }

  attrNames(path: string): string[] {
    return this.guard(`attributes of "${path}"`, () => {
      const obj = this.file.get(path) as { attrs?: Record<string, unknown> } | null;
      return obj?.attrs ? Object.keys(obj.attrs) : [];
    });
  }

  /**
   * An attribute's value as JSON-like data: strings (fixed-length byte strings and variable-length strings alike),
   * numbers, or arrays of them; undefined when absent.
   */
  attr(path: string, name: string): unknown {
    return this.guard(`attribute "${name}" of "${path}"`, () => {
      const obj = this.file.get(path) as { attrs?: Record<string, { metadata: { type: number; size: number; total_size: number }; json_value: unknown }> } | null;
      const attr = obj?.attrs?.[name];
      if (!attr) return undefined;
      const { type, size, total_size } = attr.metadata;
      if (size * total_size > this.byteLength) throw this.corrupt(`attribute "${name}" of "${path}"`, 'it declares more bytes than the file holds');
      if (type !== H5T_STRING && type !== H5T_INTEGER && type !== H5T_FLOAT) {
        throw this.corrupt(`attribute "${name}" of "${path}"`, `unexpected HDF5 type class ${type}`);
      }
      return attr.json_value;
    });
  }

  /** Attributes of the form `attr(path, name)` as a list of strings (a scalar string becomes a one-element list). */
  stringListAttr(path: string, name: string): string[] | undefined {
    const v = this.attr(path, name);
    if (v === undefined) return undefined;
    const list = Array.isArray(v) ? v : [v];
    if (!list.every((s) => typeof s === 'string')) {
      throw new SlimnetError('MODEL_INVALID', this.where, `attribute "${name}" of "${path}" is not a list of strings`, 'the file was not written by Keras; save the model again');
    }
    return list as string[];
  }

  /** A numeric dataset as float32, read in bounded slices. bfloat16 (Keras's `dtype: "bfloat16"` attribute) is decoded too. */
  readDataset(path: string): DatasetValue {
    const object = `dataset "${path}"`;
    const dataset = this.guard(object, () => this.file.get(path)) as InstanceType<H5wasm['Dataset']> | null;
    if (!dataset || dataset.type !== 'Dataset') throw this.corrupt(object, 'it is not a dataset');
    const meta = this.guard(object, () => dataset.metadata);
    const shape = (meta.shape ?? []).map(Number);
    const count = shape.reduce((a, b) => a * b, 1);
    const elementBytes = meta.size;
    if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0) || count * elementBytes > Math.max(this.byteLength, 1) * 64) {
      throw this.corrupt(object, `it declares shape [${shape}] of ${elementBytes}-byte values, more than a ${this.byteLength}-byte file can hold`);
    }
    const bfloat16 = meta.type === H5T_OPAQUE && elementBytes === 2 && this.attr(path, 'dtype') === 'bfloat16';
    const dtype = describeType(meta.type, elementBytes, meta.signed, bfloat16);
    if (!dtype) throw this.corrupt(object, `its element type (class ${meta.type}, ${elementBytes} bytes) is not numeric`);
    const raw = this.readRaw(path, object, shape, elementBytes);
    return { shape, values: decode(raw, dtype, meta.littleEndian !== false), dtype };
  }

  private readRaw(path: string, object: string, shape: number[], elementBytes: number): Uint8Array {
    const count = shape.reduce((a, b) => a * b, 1);
    const out = new Uint8Array(count * elementBytes);
    if (count === 0) return out;
    const rowElements = shape.length === 0 ? 1 : count / shape[0];
    const rows = shape.length === 0 ? 1 : shape[0];
    const rowsPerSlice = Math.max(1, Math.floor(SLICE_BYTES / Math.max(1, rowElements * elementBytes)));
    for (let start = 0; start < rows; start += rowsPerSlice) {
      const n = Math.min(rowsPerSlice, rows - start);
      const bytes = n * rowElements * elementBytes;
      const ptr = this.module._malloc(bytes);
      if (ptr === 0) throw this.corrupt(object, `cannot allocate ${bytes} bytes`);
      try {
        const selection = shape.length === 0
          ? [null, null, null]
          : [[BigInt(n), ...shape.slice(1).map(BigInt)], [BigInt(start), ...shape.slice(1).map(() => 0n)], shape.map(() => 1n)];
        const status = this.guard(object, () => this.module.get_dataset_data(this.file.file_id, path, selection[0] as bigint[] | null, selection[1] as bigint[] | null, selection[2] as bigint[] | null, BigInt(ptr)));
        if (typeof status === 'number' && status < 0) throw this.corrupt(object, `libhdf5 returned ${status}`);
        out.set(this.module.HEAPU8.subarray(ptr, ptr + bytes), start * rowElements * elementBytes);
      } finally {
        this.module._free(ptr);
      }
    }
    return out;
  }
}

function describeType(typeClass: number, size: number, signed: boolean | undefined, bfloat16: boolean): string | undefined {
  if (bfloat16) return 'bfloat16';
  if (typeClass === H5T_FLOAT && (size === 2 || size === 4 || size === 8)) return `float${size * 8}`;
  if (typeClass === H5T_INTEGER && [1, 2, 4, 8].includes(size)) return `${signed ? 'int' : 'uint'}${size * 8}`;
  return undefined;
}

function decode(raw: Uint8Array, dtype: string, littleEndian: boolean): Float32Array {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (dtype === 'float32' && littleEndian) return new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4).slice();
  const size = Number(/\d+$/.exec(dtype)![0]) / 8;
  const n = raw.byteLength / size;
  if (dtype === 'float16') {
    const bits = new Uint16Array(n);
    for (let i = 0; i < n; i++) bits[i] = view.getUint16(i * 2, littleEndian);
    return float16BitsToFloat32(bits);
  }
  const out = new Float32Array(n);
  const read: (o: number) => number = {
    bfloat16: (o: number) => new Float32Array(new Uint32Array([view.getUint16(o, littleEndian) << 16]).buffer)[0],
    float32: (o: number) => view.getFloat32(o, littleEndian),
    float64: (o: number) => view.getFloat64(o, littleEndian),
    int8: (o: number) => view.getInt8(o),
    uint8: (o: number) => view.getUint8(o),
    int16: (o: number) => view.getInt16(o, littleEndian),
    uint16: (o: number) => view.getUint16(o, littleEndian),
    int32: (o: number) => view.getInt32(o, littleEndian),
    uint32: (o: number) => view.getUint32(o, littleEndian),
    int64: (o: number) => Number(view.getBigInt64(o, littleEndian)),
    uint64: (o: number) => Number(view.getBigUint64(o, littleEndian)),
  }[dtype]!;
  for (let i = 0; i < n; i++) out[i] = read(i * size);
  return out;
}
