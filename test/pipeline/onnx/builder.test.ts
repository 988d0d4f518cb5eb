/** The graph builder's bookkeeping and the weight reordering the converters rely on. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphBuilder, onnxAxis, type TensorRef } from '../../../pipeline/onnx/builder.ts';
import { transposeValues } from '../../../pipeline/onnx/converter.ts';

test('unique names: the hint first, then numbered; claimed names are exact and exclusive', () => {
  const b = new GraphBuilder();
  assert.equal(b.claim('conv'), 'conv');
  assert.throws(() => b.claim('conv'));
  assert.equal(b.unique('conv'), 'conv_1');
  assert.equal(b.unique('conv'), 'conv_2');
  assert.equal(b.unique('other'), 'other');
});

test('inLayout transposes once per tensor and direction, and a round trip returns the original tensor', () => {
  const b = new GraphBuilder();
  const x: TensorRef = { name: 'x', layout: 'keras', shape: [null, 4, 5, 3] };
  const nchw = b.inLayout(x, 'nchw');
  assert.equal(nchw.layout, 'nchw');
  assert.deepEqual(nchw.shape, x.shape);
  assert.equal(b.inLayout(x, 'nchw'), nchw);
  assert.equal(b.inLayout(nchw, 'keras'), x);
  assert.equal(b.inLayout(x, 'keras'), x);
  const nodes = b.graph('g').node!;
  assert.equal(nodes.length, 1);
  assert.deepEqual(nodes[0].attribute![0].ints, [0, 3, 1, 2]);
  assert.throws(() => b.inLayout({ name: 'v', layout: 'keras', shape: [null, 3] }, 'nchw'));
});

test('inLayout moves size-1 axes by a Reshape (same element order), with the batch copied; free sizes keep the Transpose', () => {
  const b = new GraphBuilder();
  b.inLayout({ name: 'gray', layout: 'keras', shape: [null, 4, 5, 1] }, 'nchw');
  b.inLayout({ name: 'map1x1', layout: 'nchw', shape: [null, 1, 1, 7] }, 'keras');
  b.inLayout({ name: 'free', layout: 'keras', shape: [null, null, 5, 1] }, 'nchw');
  b.inLayout({ name: 'seq', layout: 'keras', shape: [null, 6, 1] }, 'nchw');
  const g = b.graph('g');
  assert.deepEqual(g.node!.map((n) => n.opType), ['Reshape', 'Reshape', 'Transpose', 'Reshape']);
  const shapeOf = (name: string) => {
    const raw = g.initializer!.find((t) => t.name === name)!.rawData!;
    return Array.from(new BigInt64Array(raw.slice().buffer), Number);
  };
  assert.deepEqual(shapeOf(g.node![0].input![1]!), [0, 1, 4, 5]);
  assert.deepEqual(shapeOf(g.node![1].input![1]!), [0, 1, 1, 7]);
  assert.deepEqual(shapeOf(g.node![3].input![1]!), [0, 1, 6]);
  assert.deepEqual(b.transposes.get(g.node![2].output![0]!), { input: 'free', inputShape: [null, null, 5, 1], perm: [0, 3, 1, 2] });
});

test('Keras axes map into NCHW positions', () => {
  assert.deepEqual([0, 1, 2, 3].map((a) => onnxAxis(a, 4, 'nchw')), [0, 2, 3, 1]);
  assert.equal(onnxAxis(-1, 4, 'nchw'), 1);
  assert.equal(onnxAxis(-1, 4, 'keras'), 3);
  assert.equal(onnxAxis(-1, 2, 'keras'), 1);
  assert.throws(() => onnxAxis(4, 4, 'keras'));
});

test('initializers: float32 and int64 stored as little-endian raw data, copied from the caller', () => {
  const b = new GraphBuilder();
  const values = Float32Array.from([1.5, -2, 3.25]);
  b.floatConst('w', [3], values);
  values[0] = 99;
  b.int64Const('shape', [0, -1, 7]);
  const [w, shape] = b.graph('g').initializer!;
  const wBytes = w.rawData!;
  const view = new DataView(wBytes.buffer, wBytes.byteOffset, wBytes.byteLength);
  assert.deepEqual([0, 4, 8].map((o) => view.getFloat32(o, true)), [1.5, -2, 3.25]);
  const sBytes = shape.rawData!;
  const sView = new DataView(sBytes.buffer, sBytes.byteOffset, sBytes.byteLength);
  assert.deepEqual([0, 8, 16].map((o) => sView.getBigInt64(o, true)), [0n, -1n, 7n]);
  assert.throws(() => b.floatConst('bad', [2, 2], [1, 2, 3]));
});

test('transposeValues permutes like numpy.transpose', () => {
  // shape [2,3]: [[0,1,2],[3,4,5]] -> [[0,3],[1,4],[2,5]]
  assert.deepEqual(Array.from(transposeValues(Float32Array.from([0, 1, 2, 3, 4, 5]), [2, 3], [1, 0])), [0, 3, 1, 4, 2, 5]);
  // [kh,kw,cin,cout] = [1,2,1,2] -> [cout,cin,kh,kw]: element (0,w,0,o) = w*2+o lands at o*2+w
  assert.deepEqual(Array.from(transposeValues(Float32Array.from([0, 1, 2, 3]), [1, 2, 1, 2], [3, 2, 0, 1])), [0, 2, 1, 3]);
});
