/**
 * Removes the channels-first → channels-last Transpose the exporter puts before a Flatten (Keras flattens NHWC;
 * ONNX convolutions leave NCHW) when every consumer of the Flatten is a matrix product with a constant weight
 * (Gemm, or MatMul on 2-D): flattening the NCHW tensor directly gives the same features in another order, so the
 * weight's rows are reordered instead — once, in the file — and the runtime moves no data. The weight may be
 * stored quantised: the rows of its codes are reordered, through the element-wise or per-column decoding between
 * them and the product (Cast, Mul by a per-column or scalar scale, DequantizeLinear on axis 1 or per tensor,
 * Gather from a lookup table). Anything else — a Flatten read by another layer or as a model output, a weight
 * shared or decoded per row — keeps the Transpose.
 */
import type { LayoutChange } from './builder.ts';
import { FLOAT, FLOAT16, INT32, INT64, INT8, UINT16, UINT8, type OnnxTypes } from './proto.ts';

type Graph = OnnxTypes.IGraphProto;
type Node = OnnxTypes.INodeProto;
type Tensor = OnnxTypes.ITensorProto;

const BYTES: Record<number, number> = { [FLOAT]: 4, [FLOAT16]: 2, [INT8]: 1, [UINT8]: 1, [UINT16]: 2, [INT32]: 4, [INT64]: 8 };

const attr = (node: Node, name: string) => node.attribute?.find((a) => a.name === name);
const intAttr = (node: Node, name: string, fallback: number) => Number(attr(node, name)?.i ?? fallback);
const dimsOf = (t: Tensor) => (t.dims ?? []).map(Number);

interface GraphIndex {
  producer: Map<string, Node>;
  consumers: Map<string, Node[]>;
  initializer: Map<string, Tensor>;
  outputs: Set<string>;
}

function indexGraph(g: Graph): GraphIndex {
  const producer = new Map<string, Node>();
  const consumers = new Map<string, Node[]>();
  for (const n of g.node ?? []) {
    for (const o of n.output ?? []) producer.set(o, n);
    for (const i of n.input ?? []) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  }
  return {
    producer,
    consumers,
    initializer: new Map((g.initializer ?? []).map((t) => [t.name!, t])),
    outputs: new Set((g.output ?? []).map((o) => o.name!)),
  };
}

/** Read by exactly `node` and not a graph output. */
const onlyFeeds = (ix: GraphIndex, tensor: string, node: Node) =>
  !ix.outputs.has(tensor) && (ix.consumers.get(tensor) ?? []).length === 1 && ix.consumers.get(tensor)![0] === node;

/** A broadcast operand that is the same for every row of a [rows, cols] tensor: a scalar, [cols] or [1, cols]. */
function rowInvariant(ix: GraphIndex, name: string): boolean {
  const t = ix.initializer.get(name);
  if (!t) return false;
  const dims = dimsOf(t);
  return dims.length <= 1 || (dims.length === 2 && dims[0] === 1);
}

/**
 * The initializer holding the rows of the [rows, cols] weight `name` feeds to `reader`, following element-wise and
 * per-column decoding back to it; undefined when its rows cannot be reordered without changing anything else.
 */
function rowSource(ix: GraphIndex, name: string, reader: Node, rows: number): Tensor | undefined {
  if (!onlyFeeds(ix, name, reader)) return undefined;
  const init = ix.initializer.get(name);
  if (init) return dimsOf(init).length === 2 && dimsOf(init)[0] === rows && BYTES[init.dataType!] && init.rawData ? init : undefined;
  const node = ix.producer.get(name);
  if (!node) return undefined;
  const [a, b, c] = node.input ?? [];
  switch (node.opType) {
    case 'Cast':
      return rowSource(ix, a!, node, rows);
    case 'Mul':
      if (rowInvariant(ix, b!)) return rowSource(ix, a!, node, rows);
      if (rowInvariant(ix, a!)) return rowSource(ix, b!, node, rows);
      return undefined;
    case 'DequantizeLinear': {
      const scale = ix.initializer.get(b!);
      if (!scale || (c && !ix.initializer.has(c))) return undefined;
      const axis = intAttr(node, 'axis', 1);
      if (dimsOf(scale).length > 0 && axis !== 1 && axis !== -1) return undefined;
      return rowSource(ix, a!, node, rows);
    }
    case 'Gather': {
      const table = ix.initializer.get(a!);
      if (!table || dimsOf(table).length !== 1 || intAttr(node, 'axis', 0) !== 0) return undefined;
      return rowSource(ix, b!, node, rows);
    }
    default:
      return undefined;
  }
}

/** Row j of the reordered weight is row `order[j]` of the original. */
function reorderRows(t: Tensor, order: Int32Array): void {
  const [rows, cols] = dimsOf(t) as [number, number];
  const rowBytes = cols * BYTES[t.dataType!]!;
  const src = t.rawData!;
  if (src.length !== rows * rowBytes) throw new Error(`initializer ${t.name}: ${src.length} bytes for dims [${rows}, ${cols}]`);
  const out = new Uint8Array(src.length);
  for (let j = 0; j < rows; j++) out.set(src.subarray(order[j]! * rowBytes, (order[j]! + 1) * rowBytes), j * rowBytes);
  t.rawData = out;
}

/**
 * For features flattened from `shape` (batch first, the order the Transpose's input has) instead of from its
 * transposition by `perm`: for each flat position j of the untransposed tensor, the position the same element has
 * in the transposed one.
 */
export function flattenOrder(shape: number[], perm: number[]): Int32Array {
  const dims = shape.slice(1);
  const tPerm = perm.slice(1).map((p) => p - 1);
  const tDims = tPerm.map((p) => dims[p]!);
  const tStrides = tDims.map((_, i) => tDims.slice(i + 1).reduce((a, b) => a * b, 1));
  // Stride, in the transposed tensor, of each axis of the original.
  const strideOf = dims.map((_, axis) => tStrides[tPerm.indexOf(axis)]!);
  const total = dims.reduce((a, b) => a * b, 1);
  const order = new Int32Array(total);
  const index = new Array<number>(dims.length).fill(0);
  for (let j = 0; j < total; j++) {
    let at = 0;
    for (let d = 0; d < dims.length; d++) at += index[d]! * strideOf[d]!;
    order[j] = at;
    for (let d = dims.length - 1; d >= 0; d--) {
      if (++index[d]! < dims[d]!) break;
      index[d] = 0;
    }
  }
  return order;
}

/** Applies the fold wherever it is exact; returns how many Transposes it removed. */
export function foldFlattenTransposes(g: Graph, changes: ReadonlyMap<string, LayoutChange>): number {
  let folded = 0;
  for (const [name, change] of changes) {
    const ix = indexGraph(g);
    const transpose = ix.producer.get(name);
    if (transpose?.opType !== 'Transpose' || change.inputShape.slice(1).some((d) => d === null)) continue;
    const flatten = ix.consumers.get(name)?.[0];
    if (!flatten || flatten.opType !== 'Flatten' || intAttr(flatten, 'axis', 1) !== 1 || !onlyFeeds(ix, name, flatten)) continue;
    const flat = flatten.output![0]!;
    const readers = ix.consumers.get(flat) ?? [];
    if (readers.length === 0 || ix.outputs.has(flat)) continue;
    const rows = change.inputShape.slice(1).reduce<number>((a, b) => a * b!, 1);
    const sources = readers.map((r) => {
      const product = r.opType === 'Gemm' ? intAttr(r, 'transA', 0) === 0 && intAttr(r, 'transB', 0) === 0 : r.opType === 'MatMul';
      return product && r.input![0] === flat && r.input![1] !== flat ? rowSource(ix, r.input![1]!, r, rows) : undefined;
    });
    if (sources.some((s) => !s) || new Set(sources).size !== sources.length) continue;
    const order = flattenOrder(change.inputShape as number[], change.perm);
    for (const s of sources) reorderRows(s!, order);
    flatten.input![0] = change.input;
    g.node = g.node!.filter((n) => n !== transpose);
    folded++;
  }
  return folded;
}
