/**
 * A small ONNX graph builder: nodes, initializers, graph inputs/outputs and unique names, plus the one
 * piece of bookkeeping the exporter needs everywhere — which memory layout each tensor is in.
 *
 * Keras tensors are channels-last (NHWC); ONNX convolutions and pools are NCHW. A rank-4 tensor is
 * therefore held either as Keras has it ('keras') or transposed to [N,C,H,W] ('nchw'; a rank-3 [N,L,C] tensor of a 1-D
 * convolution or pool likewise as [N,C,L]); `inLayout`
 * inserts a Transpose only when a consumer needs the other layout, and only once per tensor.
 */
import { FLOAT, INT64, onnx } from './proto.ts';
import type { OnnxTypes } from './proto.ts';

/** A dimension; null is unknown (the batch, or a free spatial size). */
export type Dim = number | null;

/** 'keras': the ONNX tensor has the Keras shape as is. 'nchw': channels first — a Keras [N,H,W,C] tensor held as [N,C,H,W], a [N,L,C] one as [N,C,L]. */
export type Layout = 'keras' | 'nchw';

/** An ONNX tensor standing for a Keras tensor; `shape` is always the Keras (NHWC) shape, batch first. */
export interface TensorRef {
  name: string;
  layout: Layout;
  shape: Dim[];
}

export type Attr = { i: number } | { f: number } | { ints: number[] } | { floats: number[] } | { s: string } | { strings: string[] };

export const NHWC_TO_NCHW = [0, 3, 1, 2];
export const NCHW_TO_NHWC = [0, 2, 3, 1];

/** Ranks a tensor can be held channels-first at (1-D and 2-D feature maps, batch included). */
const CHANNELS_FIRST_RANKS = [3, 4];

/** The permutation moving a rank-`rank` tensor's channels to axis 1 (or back, `toKeras`). */
function channelsPerm(rank: number, toKeras: boolean): number[] {
  if (rank === 4) return toKeras ? NCHW_TO_NHWC : NHWC_TO_NCHW;
  return [0, 2, 1];
}

/** Where Keras axis `axis` of a tensor of rank `rank` sits in the ONNX tensor of the given layout. */
export function onnxAxis(kerasAxis: number, rank: number, layout: Layout): number {
  const a = kerasAxis < 0 ? kerasAxis + rank : kerasAxis;
  if (a < 0 || a >= rank) throw new Error(`axis ${kerasAxis} out of range for rank ${rank}`);
  if (layout === 'keras') return a;
  if (!CHANNELS_FIRST_RANKS.includes(rank)) throw new Error(`nchw layout on a rank-${rank} tensor`);
  return a === 0 ? 0 : a === rank - 1 ? 1 : a + 1;
}

/** A layout change the builder emitted (a Transpose, or a Reshape when it moves only size-1 axes). */
export interface LayoutChange {
  input: string;
  /** The input's shape in ONNX order (channels first for an 'nchw' tensor), batch first. */
  inputShape: Dim[];
  perm: number[];
}

/** The ONNX tensor's shape: the Keras shape, channels moved to axis 1 when the tensor is held channels-first. */
function onnxShape(ref: TensorRef): Dim[] {
  return ref.layout === 'keras' ? ref.shape : channelsPerm(ref.shape.length, false).map((p) => ref.shape[p]!);
}

/** Whether transposing `shape` by `perm` only moves axes of size 1 (the others keep their order): a reshape. */
export function keepsElementOrder(shape: Dim[], perm: number[]): boolean {
  const moved = perm.filter((p) => shape[p] !== 1);
  return moved.every((p, i) => i === 0 || moved[i - 1]! < p);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** ONNX raw_data is little-endian; copy so later edits of the caller's array cannot change the model. */
function littleEndianBytes(values: Float32Array | BigInt64Array): Uint8Array {
  const copy = values.slice();
  const bytes = new Uint8Array(copy.buffer, copy.byteOffset, copy.byteLength);
  if (!LITTLE_ENDIAN) {
    const size = copy.BYTES_PER_ELEMENT;
    for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
  }
  return bytes;
}

function attribute(name: string, value: Attr): OnnxTypes.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ('i' in value) return { name, type: T.INT, i: value.i };
  if ('f' in value) return { name, type: T.FLOAT, f: value.f };
  if ('ints' in value) return { name, type: T.INTS, ints: value.ints };
  if ('floats' in value) return { name, type: T.FLOATS, floats: value.floats };
  if ('strings' in value) return { name, type: T.STRINGS, strings: value.strings.map((v) => new TextEncoder().encode(v)) };
  return { name, type: T.STRING, s: new TextEncoder().encode(value.s) };
}

function valueInfo(name: string, shape: Dim[]): OnnxTypes.IValueInfoProto {
  const dim = shape.map((d, i) =>
    d === null ? { dimParam: i === 0 ? 'batch' : `${name}_dim${i}` } : { dimValue: d },
  );
  return { name, type: { tensorType: { elemType: FLOAT, shape: { dim } } } };
}

export class GraphBuilder {
  private readonly names = new Set<string>();
  private readonly nodes: OnnxTypes.INodeProto[] = [];
  private readonly initializers: OnnxTypes.ITensorProto[] = [];
  private readonly inputs: OnnxTypes.IValueInfoProto[] = [];
  private readonly outputs: OnnxTypes.IValueInfoProto[] = [];
  /** `${tensor}->${layout}` → the transposed copy, so each tensor is transposed at most once per direction. */
  private readonly relayouts = new Map<string, TensorRef>();
  /** Every layout change made, by output name: its input, the input's ONNX shape and the permutation. */
  readonly transposes = new Map<string, LayoutChange>();

  /** Takes `name` exactly: graph inputs and outputs must carry the tfjs names. */
  claim(name: string): string {
    if (this.names.has(name)) throw new Error(`ONNX name "${name}" is already taken`);
    this.names.add(name);
    return name;
  }

  /** `hint` if free, else `hint_1`, `hint_2`, ... */
  unique(hint: string): string {
    let name = hint;
    for (let i = 1; this.names.has(name); i++) name = `${hint}_${i}`;
    this.names.add(name);
    return name;
  }

  /** Adds a node with one output named after `hint` and returns that output's name. */
  op(opType: string, inputs: string[], attrs: Record<string, Attr>, hint: string): string {
    const output = this.unique(hint);
    this.nodes.push({
      opType,
      name: output,
      input: inputs,
      output: [output],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return output;
  }

  /** Adds a node with several outputs (e.g. MaxPool's Y and Indices), one per hint; returns their names. */
  opMulti(opType: string, inputs: string[], attrs: Record<string, Attr>, hints: string[]): string[] {
    const outputs = hints.map((h) => this.unique(h));
    this.nodes.push({
      opType,
      name: outputs[0],
      input: inputs,
      output: outputs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outputs;
  }

  /** Makes `tensor` available under `name` (a claimed graph output name) with an Identity node. */
  alias(tensor: string, name: string): void {
    if (!this.names.has(name)) throw new Error(`alias target "${name}" was not claimed`);
    this.nodes.push({ opType: 'Identity', name: this.unique(`${name}/identity`), input: [tensor], output: [name] });
  }

  /** A float32 initializer (weights, constants); dims [] makes a scalar. */
  floatConst(hint: string, dims: number[], values: Float32Array | number[]): string {
    const data = values instanceof Float32Array ? values : Float32Array.from(values);
    if (data.length !== dims.reduce((a, b) => a * b, 1)) {
      throw new Error(`initializer ${hint}: ${data.length} values for dims [${dims}]`);
    }
    const name = this.unique(hint);
    this.initializers.push({ name, dims, dataType: FLOAT, rawData: littleEndianBytes(data) });
    return name;
  }

  /** An initializer of any element type from its little-endian bytes (quantised weights: INT8, UINT8, FLOAT16). */
  rawConst(hint: string, dims: number[], dataType: number, rawData: Uint8Array): string {
    const name = this.unique(hint);
    this.initializers.push({ name, dims, dataType, rawData: rawData.slice() });
    return name;
  }

  /** A 1-D int64 initializer (shapes, pads). */
  int64Const(hint: string, values: number[]): string {
    const name = this.unique(hint);
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dims: [values.length], dataType: INT64, rawData: littleEndianBytes(data) });
    return name;
  }

  addInput(name: string, shape: Dim[]): void {
    this.inputs.push(valueInfo(name, shape));
  }

  addOutput(name: string, shape: Dim[]): void {
    this.outputs.push(valueInfo(name, shape));
  }

  /**
   * `ref` in the requested layout, transposing (once, cached) if needed. A transpose that moves only size-1 axes
   * (channels of a 1-channel image, the 1×1 map before a Flatten) keeps the element order: it is emitted as a
   * Reshape, which costs a runtime nothing, where the spatial sizes are known.
   */
  inLayout(ref: TensorRef, layout: Layout): TensorRef {
    if (ref.layout === layout) return ref;
    if (!CHANNELS_FIRST_RANKS.includes(ref.shape.length)) throw new Error(`cannot change the layout of a rank-${ref.shape.length} tensor`);
    const key = `${ref.name}->${layout}`;
    let moved = this.relayouts.get(key);
    if (!moved) {
      const perm = channelsPerm(ref.shape.length, layout === 'keras');
      const from = onnxShape(ref);
      const to = perm.map((p) => from[p]!);
      const hint = `${ref.name}/to_${layout}`;
      const name = keepsElementOrder(from, perm) && to.slice(1).every((d) => d !== null)
        // Leading 0 copies the (dynamic) batch dimension.
        ? this.op('Reshape', [ref.name, this.int64Const(`${hint}/shape`, [0, ...(to.slice(1) as number[])])], {}, hint)
        : this.op('Transpose', [ref.name], { perm: { ints: perm } }, hint);
      this.transposes.set(name, { input: ref.name, inputShape: from, perm });
      moved = { name, layout, shape: ref.shape };
      this.relayouts.set(key, moved);
      // The way back is the tensor we started from: no second transpose for a round trip.
      this.relayouts.set(`${name}->${ref.layout}`, ref);
    }
    return moved;
  }

  graph(name: string, docString?: string): OnnxTypes.IGraphProto {
    return {
      name,
      docString,
      node: this.nodes,
      initializer: this.initializers,
      input: this.inputs,
      output: this.outputs,
    };
  }
}
