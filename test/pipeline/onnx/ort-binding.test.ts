/**
 * onnxruntime's Run through onnxruntime-node's native binding (timing only): it returns what the public API returns,
 * and anything else a binding might become (missing, reshaped, throwing, computing something else) is refused with
 * the reason, so the latency module times the public API instead. Real onnxruntime sessions; no timing asserted.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { openOrtTimed } from '../../../pipeline/measure/latency.ts';
import { GraphBuilder } from '../../../pipeline/onnx/builder.ts';
import { ortSessionOptions } from '../../../pipeline/onnx/ort.ts';
import { loadOrtBinding, openBindingSession, type BindingLoader } from '../../../pipeline/onnx/ort-binding.ts';
import { encodeModel } from '../../../pipeline/onnx/proto.ts';

/** y = x·W + b and relu(y), both outputs: a model whose outputs depend on the input and the weights. */
function smallModel(): Uint8Array {
  const b = new GraphBuilder();
  for (const name of ['x', 'y', 'r']) b.claim(name);
  b.addInput('x', [null, 3]);
  const w = b.floatConst('w', [3, 2], [0.5, -1, 2, 0.25, -0.75, 1.5]);
  const bias = b.floatConst('b', [2], [0.1, -0.2]);
  b.alias(b.op('Gemm', ['x', w, bias], {}, 'gemm'), 'y');
  b.alias(b.op('Relu', ['y'], {}, 'relu'), 'r');
  b.addOutput('y', [null, 2]);
  b.addOutput('r', [null, 2]);
  return encodeModel({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], producerName: 'test', graph: b.graph('small') });
}

const bytes = smallModel();
const options = ortSessionOptions({ threads: 1 });
const x = new Float32Array([1, -2, 0.5, 3, 0.25, -1]);
const feeds = () => ({ x: new ort.Tensor('float32', x, [2, 3]) });

/** The real binding with its session's `run` (or the whole class) replaced. */
function alteredBinding(alter: (real: { run: (...a: unknown[]) => Record<string, ort.Tensor> }) => Record<string, unknown>): BindingLoader {
  const real = loadOrtBinding() as { binding: { InferenceSession: new () => Record<string, (...a: unknown[]) => unknown> & { outputMetadata: unknown } } };
  class Altered {
    inner = new real.binding.InferenceSession();
    loadModel(...a: unknown[]) { return this.inner.loadModel!(...a); }
    get outputMetadata() { return this.inner.outputMetadata; }
    dispose() { return this.inner.dispose!(); }
  }
  return () => ({
    binding: {
      InferenceSession: class extends Altered {
        constructor() {
          super();
          Object.assign(this, alter({ run: (...a) => this.inner.run!(...a) as Record<string, ort.Tensor> }));
        }
      },
    },
  });
}

test('the binding session returns exactly what the public API returns, every output', async () => {
  const reference = await ort.InferenceSession.create(bytes, options);
  const opened = await openBindingSession(bytes, options, feeds(), reference);
  assert.equal(opened.refused, undefined);
  const got = opened.session!.run(feeds());
  const want = await reference.run(feeds());
  assert.deepEqual(Object.keys(got).sort(), ['r', 'y']);
  for (const name of ['y', 'r']) {
    assert.deepEqual(got[name]!.dims, want[name]!.dims);
    assert.deepEqual(Array.from(got[name]!.data as Float32Array), Array.from(want[name]!.data as Float32Array));
  }
  // Computed, not constant: y[0][0] is x[0]·W[:, 0] + b[0].
  assert.ok(Math.abs((got.y!.data as Float32Array)[0]! - (1 * 0.5 - 2 * 2 + 0.5 * -0.75 + 0.1)) < 1e-6);
  opened.session!.release();
  await reference.release();
});

test('a binding that is missing, reshaped, throwing or computing something else is refused with the reason', async () => {
  const reference = await ort.InferenceSession.create(bytes, options);
  const cases: [string, BindingLoader, RegExp][] = [
    ['missing module', () => { throw new Error("Cannot find module 'onnxruntime-node/dist/binding'"); }, /did not load \(Cannot find module/],
    ['no session class', () => ({ binding: {} }), /no binding\.InferenceSession class/],
    ['session without run', alteredBinding(() => ({ run: undefined })), /no run\(\)/],
    ['run throws', alteredBinding(() => ({ run: () => { throw new Error('changed signature'); } })), /changed signature/],
    ['fewer outputs', alteredBinding(({ run }) => ({ run: (...a: unknown[]) => ({ y: run(...a).y }) })), /outputs \[y\] are not the public API's/],
    ['not tensors', alteredBinding(({ run }) => ({ run: (...a: unknown[]) => Object.fromEntries(Object.keys(run(...a)).map((k) => [k, [1, 2]])) })), /is not a tensor/],
    ['other values', alteredBinding(({ run }) => ({
      run: (...a: unknown[]) => {
        const out = run(...a);
        (out.r!.data as Float32Array)[3]! += 1e-3;
        return out;
      },
    })), /output "r" differs from the public API's at 3/],
  ];
  for (const [what, load, reason] of cases) {
    const opened = await openBindingSession(bytes, options, feeds(), reference, load);
    assert.equal(opened.session, undefined, what);
    assert.match(opened.refused!, reason, what);
  }
  await reference.release();
});

test('timing sessions: onnxruntime Run through the binding, or every model through the public API when it is refused', async () => {
  const models = [{ name: 'a', bytes }, { name: 'b', bytes }];
  const direct = await openOrtTimed(models, x, [2, 3], { keepPublicApi: true });
  assert.equal(direct.method, 'ort-run');
  assert.equal(direct.refused, undefined);
  assert.equal(direct.publicApi.length, 2);
  for (const r of [...direct.runners, ...direct.publicApi]) await r.run();
  assert.notEqual(direct.runners[0], direct.publicApi[0]);
  await direct.release();

  // Without keepPublicApi the public sessions only check the binding's output: one session per model is timed.
  const lean = await openOrtTimed(models, x, [2, 3]);
  assert.equal(lean.method, 'ort-run');
  assert.deepEqual(lean.publicApi, []);
  for (const r of lean.runners) await r.run();
  await lean.release();

  // The second model's binding fails its probe: neither model is timed through the binding (no mixed methods).
  let opened = 0;
  const secondFails: BindingLoader = () => (opened++ === 0 ? loadOrtBinding() : { binding: {} });
  const fallback = await openOrtTimed(models, x, [2, 3], { loadBinding: secondFails });
  assert.equal(fallback.method, 'public-api');
  assert.match(fallback.refused!, /no binding\.InferenceSession class/);
  assert.deepEqual(fallback.runners, fallback.publicApi);
  for (const r of fallback.runners) await r.run();
  await fallback.release();
});
