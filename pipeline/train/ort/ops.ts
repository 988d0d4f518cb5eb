/** Small ONNX building blocks the layer rules share (opset 17 signatures: ReduceSum/Unsqueeze take axes as inputs). */
import type { GraphBuilder } from '../../onnx/builder.ts';

export function scalar(b: GraphBuilder, hint: string, value: number): string {
  return b.floatConst(hint, [], [value]);
}

export function reduceSum(b: GraphBuilder, x: string, axes: number[], keepdims: boolean, hint: string): string {
  return b.op('ReduceSum', [x, b.int64Const(`${hint}/axes`, axes)], { keepdims: { i: keepdims ? 1 : 0 } }, hint);
}

export function reduceMean(b: GraphBuilder, x: string, axes: number[], keepdims: boolean, hint: string): string {
  return b.op('ReduceMean', [x], { axes: { ints: axes }, keepdims: { i: keepdims ? 1 : 0 } }, hint);
}

export function reshape(b: GraphBuilder, x: string, shape: number[], hint: string): string {
  return b.op('Reshape', [x, b.int64Const(`${hint}/shape`, shape)], {}, hint);
}

export function transpose(b: GraphBuilder, x: string, perm: number[], hint: string): string {
  return b.op('Transpose', [x], { perm: { ints: perm } }, hint);
}

export function mul(b: GraphBuilder, x: string, y: string, hint: string): string {
  return b.op('Mul', [x, y], {}, hint);
}

/** dy where `mask` holds, else 0. */
export function maskGrad(b: GraphBuilder, mask: string, dy: string, hint: string): string {
  return b.op('Where', [mask, dy, scalar(b, `${hint}/zero`, 0)], {}, hint);
}

/** Identity layout for weights the graph uses exactly as the IR stores them. */
export function asStored(shape: number[]): { shape: number[]; toTrain: (v: Float32Array) => Float32Array; toIR: (v: Float32Array) => Float32Array } {
  return { shape, toTrain: (v) => v.slice(), toIR: (v) => v.slice() };
}

/**
 * A node whose output is the graph output `name` itself (no Identity copy into the caller's buffer). `name` must be
 * unused; carried-tensor names contain ':', which no internal node name does.
 */
export function opInto(b: GraphBuilder, opType: string, inputs: string[], name: string): string {
  const out = b.op(opType, inputs, {}, name);
  if (out !== name) throw new Error(`graph output name "${name}" was already taken`);
  return out;
}
