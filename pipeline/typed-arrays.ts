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
