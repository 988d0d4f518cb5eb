/**
 * Dense as FULLY_CONNECTED with weights [out, in] (Keras stores [in, out]). FULLY_CONNECTED flattens all leading
 * axes, so a Dense on a rank > 2 input (Keras applies the kernel to the last axis) is reshaped back afterwards.
 */
import type { DenseConfig } from '../../../layers/dense.ts';
import { requireWeight, transposeValues } from '../../../onnx/converter.ts';
import { fullyConnected, reshape } from '../ops.ts';
import { withActivation } from './activations.ts';
import { biasOrZeros, type TfliteLayerConverter } from './common.ts';

const dense: TfliteLayerConverter<DenseConfig> = (ctx) => {
  const { layer, g } = ctx;
  const w = requireWeight(layer, 'kernel');
  const [inUnits, units] = w.shape as [number, number];
  const weights = transposeValues(w.values, w.shape, [1, 0]);
  const bias = biasOrZeros(layer.config.useBias ? requireWeight(layer, 'bias').values : undefined, units);
  const x = ctx.inputs[0]!;
  return withActivation(ctx, (out, fused) => {
    if (x.shape.length <= 2) return fullyConnected(g, x, weights, units, bias, out, ctx.outShape, fused);
    const rows = x.shape.reduce((a, b) => a * b, 1) / inUnits;
    const flat = fullyConnected(g, x, weights, units, bias, { name: `${out.name}/2d`, rangeKey: out.rangeKey ?? out.name }, [rows, units], fused);
    return reshape(g, flat, out, ctx.outShape);
  });
};

export const denseConverters: Record<string, TfliteLayerConverter<any>> = { Dense: dense };
