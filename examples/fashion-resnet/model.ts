import * as tf from '@tensorflow/tfjs';

/**
 * A small residual network for Fashion-MNIST (28×28×1, 10 classes, ~78.7k parameters): a stride-2 3×3 stem
 * Conv-BN-ReLU, then three residual blocks — Conv3×3-BN-ReLU → Conv3×3-BN on the main path, a 1×1 projection
 * Conv-BN on the shortcut, Add, ReLU — of 16, 32 (stride 2) and 64 (stride 2) channels, then
 * GlobalAveragePooling2D → Dense softmax. The Adds couple each block's second conv with its projection, which
 * is what makes residual nets hard for pruning tools. Layer names are fixed; every initialiser is seeded.
 */
export function buildResidualNet(seed: number): tf.LayersModel {
  let next = 0;
  const he = () => tf.initializers.heNormal({ seed: seed * 100 + next++ });
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor;
  const conv = (name: string, filters: number, kernelSize: number, strides: number, x: tf.SymbolicTensor) =>
    apply(tf.layers.conv2d({ name, filters, kernelSize, strides, padding: 'same', useBias: false, kernelInitializer: he() }), x);
  const bn = (name: string, x: tf.SymbolicTensor) => apply(tf.layers.batchNormalization({ name }), x);
  const relu = (name: string, x: tf.SymbolicTensor) => apply(tf.layers.reLU({ name }), x);

  const input = tf.input({ shape: [28, 28, 1], name: 'image' });
  let x = relu('stem_relu', bn('stem_bn', conv('stem_conv', 16, 3, 2, input)));
  for (const [i, [filters, stride]] of ([[16, 1], [32, 2], [64, 2]] as const).entries()) {
    const b = `block${i + 1}`;
    let y = relu(`${b}_relu1`, bn(`${b}_bn1`, conv(`${b}_conv1`, filters, 3, stride, x)));
    y = bn(`${b}_bn2`, conv(`${b}_conv2`, filters, 3, 1, y));
    const shortcut = bn(`${b}_proj_bn`, conv(`${b}_proj`, filters, 1, stride, x));
    x = relu(`${b}_out`, apply(tf.layers.add({ name: `${b}_add` }), [y, shortcut]));
  }
  x = apply(tf.layers.globalAveragePooling2d({ name: 'pool' }), x);
  const out = apply(tf.layers.dense({ name: 'classifier', units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed * 100 + next++ }) }), x);
  return tf.model({ inputs: input, outputs: out, name: 'fashion_resnet' });
}
