type TypedArray = Uint8Array | Int32Array | Float32Array;

/** Concatenates typed arrays of one kind into a new array (never aliases its inputs). */
export function concatTyped<T extends TypedArray>(parts: readonly T[], Kind: new (length: number) => T): T {
  const out = new Kind(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

type NumericArray = Float32Array | Int8Array | Uint8Array | Uint16Array | Int32Array;

/** `values` (row-major, of `shape`) with its axes permuted by `perm`, as numpy's transpose; same array kind. */
export function permute<T extends NumericArray>(values: T, shape: number[], perm: number[]): T {
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]!);
  const inStrides = new Array<number>(rank);
  for (let i = rank - 1, s = 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= shape[i]!;
  }
  const strideForOut = perm.map((p) => inStrides[p]!);
  const out = new (values.constructor as new (n: number) => T)(values.length);
  const index = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let d = 0; d < rank; d++) src += index[d]! * strideForOut[d]!;
    out[o] = values[src]!;
    for (let d = rank - 1; d >= 0; d--) {
      if (++index[d]! < outShape[d]!) break;
      index[d] = 0;
    }
  }
  return out;
}
