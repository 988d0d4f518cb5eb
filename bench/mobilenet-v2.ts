/**
 * A MobileNetV2 LayersModel built with tfjs layers, layer for layer as Keras' `applications.MobileNetV2` builds it
 * (Sandler et al. 2018): a stride-2 3×3 stem, 17 inverted residual blocks (1×1 expand Conv-BN-ReLU6, ZeroPadding2D
 * before a stride-2 3×3 DepthwiseConv2D-BN-ReLU6, 1×1 project Conv-BN, Add when a stride-1 block keeps its width),
 * a 1×1 Conv-BN-ReLU6 to 1280 channels, GlobalAveragePooling2D → Dense softmax. Layer names follow Keras'
 * (`block_3_expand`, `block_3_depthwise_BN`, …), so the topology matches a Keras-converted model.
 *
 * Weights are seeded (He-normal convolutions, Glorot dense). An untrained network's activations grow or vanish
 * with depth, so `calibrateMobileNet` sets every BatchNormalization's statistics from a batch of images, layer by
 * layer (data-dependent initialisation), and centres the classifier so its decisions vary with the input: the
 * result is a deterministic stand-in for a trained model, whose own top-1 outputs can serve as labels.
 */
import * as tf from '@tensorflow/tfjs';

export interface MobileNetV2Options {
  /** Width multiplier α (Keras `alpha`): 1.0 is the full network (~2.2M params with 10 classes, ~300M MACs at 224). */
  alpha?: number;
  /** Input side in pixels (square, 3 channels). */
  size?: number;
  classes?: number;
  seed?: number;
  /**
   * Build only the network from this inverted-residual block on (0: the whole network), its input the previous
   * block's output at the size the full network gives it: the top a frozen prefix feeds (bench/mobilenet-train.ts).
   * Layer names are the full network's, so weights move between the two by name.
   */
  fromBlock?: number;
  /** BatchNormalization momentum (Keras' MobileNetV2: 0.999); a short training run needs a faster one to track its weights. */
  bnMomentum?: number;
}

/** (expansion t, output channels c, repeats n, first stride s) per stage: Table 2 of the paper. */
const STAGES: [number, number, number, number][] = [
  [1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1],
];

/** Keras' _make_divisible: nearest multiple of 8, never more than 10% below v. */
export function makeDivisible(v: number, divisor = 8): number {
  const rounded = Math.max(divisor, Math.floor(v + divisor / 2) - (Math.floor(v + divisor / 2) % divisor));
  return rounded < 0.9 * v ? rounded + divisor : rounded;
}

export function buildMobileNetV2(opts: MobileNetV2Options = {}): tf.LayersModel {
  const { alpha = 1, size = 224, classes = 10, seed = 1, fromBlock = 0, bnMomentum = 0.999 } = opts;
  let next = 0;
  const he = () => tf.initializers.heNormal({ seed: seed * 1000 + next++ });
  const glorot = () => tf.initializers.glorotUniform({ seed: seed * 1000 + next++ });
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor;
  const bn = (name: string, x: tf.SymbolicTensor) => apply(tf.layers.batchNormalization({ name, epsilon: 1e-3, momentum: bnMomentum }), x);
  const relu6 = (name: string, x: tf.SymbolicTensor) => apply(tf.layers.reLU({ name, maxValue: 6 }), x);
  const conv1x1 = (name: string, filters: number, x: tf.SymbolicTensor) =>
    apply(tf.layers.conv2d({ name, filters, kernelSize: 1, padding: 'same', useBias: false, kernelInitializer: he() }), x);

  let input = tf.input({ shape: [size, size, 3], name: 'input_1' });
  let x = input;
  let [side, channels] = [Math.ceil(size / 2), makeDivisible(32 * alpha)];
  if (fromBlock === 0) {
    x = apply(tf.layers.conv2d({ name: 'Conv1', filters: channels, kernelSize: 3, strides: 2, padding: 'same', useBias: false, kernelInitializer: he() }), input);
    x = relu6('Conv1_relu', bn('bn_Conv1', x));
  }
  let block = 0;
  for (const [t, c, n, s] of STAGES) {
    for (let i = 0; i < n; i++) {
      const stride = i === 0 ? s : 1;
      const outChannels = makeDivisible(c * alpha);
      if (block < fromBlock) {
        [side, channels] = [stride === 2 ? Math.ceil(side / 2) : side, outChannels];
        block++;
        continue;
      }
      if (block === fromBlock && fromBlock > 0) x = input = tf.input({ shape: [side, side, channels], name: 'features' });
      const inChannels = x.shape[x.shape.length - 1]!;
      const prefix = block === 0 ? 'expanded_conv_' : `block_${block}_`;
      const inputs = x;
      let y = x;
      if (block > 0) y = relu6(`${prefix}expand_relu`, bn(`${prefix}expand_BN`, conv1x1(`${prefix}expand`, t * inChannels, y)));
      // Keras pads (0, 1) on both axes before a stride-2 'valid' depthwise conv on an even-sized map.
      if (stride === 2) y = apply(tf.layers.zeroPadding2d({ name: `${prefix}pad`, padding: [[0, 1], [0, 1]] }), y);
      y = apply(tf.layers.depthwiseConv2d({
        name: `${prefix}depthwise`, kernelSize: 3, strides: stride, padding: stride === 1 ? 'same' : 'valid', useBias: false, depthwiseInitializer: he(),
      }), y);
      y = relu6(`${prefix}depthwise_relu`, bn(`${prefix}depthwise_BN`, y));
      y = bn(`${prefix}project_BN`, conv1x1(`${prefix}project`, outChannels, y));
      x = inChannels === outChannels && stride === 1 ? apply(tf.layers.add({ name: `${prefix}add` }), [inputs, y]) : y;
      block++;
    }
  }
  const last = alpha > 1 ? makeDivisible(1280 * alpha) : 1280;
  x = relu6('out_relu', bn('Conv_1_bn', conv1x1('Conv_1', last, x)));
  x = apply(tf.layers.globalAveragePooling2d({ name: 'global_average_pooling2d' }), x);
  const out = apply(tf.layers.dense({ name: 'predictions', units: classes, activation: 'softmax', kernelInitializer: glorot() }), x);
  return tf.model({ inputs: input, outputs: out, name: `mobilenetv2_${alpha}_${size}` });
}

/**
 * Data-dependent initialisation: walks the layers in order on `images` (NHWC, a few dozen are enough), and sets
 * each BatchNormalization's moving mean/variance to its input's batch statistics (gamma 1, beta 0), so every
 * normalised activation has zero mean and unit variance on this data. Then the classifier's bias cancels the mean
 * logit of each class and its kernel is scaled to unit logit spread: the model's top-1 choice depends on the image.
 */
export function calibrateMobileNet(model: tf.LayersModel, images: tf.Tensor4D): void {
  const values = new Map<string, tf.Tensor>([[model.inputs[0]!.name, tf.clone(images)]]);
  // Each activation is freed after its last consumer: a whole MobileNetV2 of activations would not fit.
  const uses = new Map<string, number>();
  for (const layer of model.layers) for (const t of layer.inboundNodes[0]!.inputTensors) uses.set(t.name, (uses.get(t.name) ?? 0) + 1);
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    const node = layer.inboundNodes[0]!;
    const ins = node.inputTensors.map((t) => values.get(t.name)!);
    const out = tf.tidy(() => {
      if (layer.getClassName() === 'BatchNormalization') {
        const { mean, variance } = tf.moments(ins[0]!, [0, 1, 2]);
        const c = mean.shape[0]!;
        layer.setWeights([tf.ones([c]), tf.zeros([c]), mean, variance]);
      }
      if (layer.name === 'predictions') {
        const [kernel] = layer.getWeights() as [tf.Tensor2D, tf.Tensor1D];
        const logits = tf.matMul(ins[0] as tf.Tensor2D, kernel);
        const { mean, variance } = tf.moments(logits, 0);
        const scale = tf.div(1, tf.sqrt(tf.add(tf.mean(variance), 1e-6)));
        layer.setWeights([tf.mul(kernel, scale), tf.neg(tf.mul(mean, scale))]);
      }
      return layer.apply(ins.length === 1 ? ins[0]! : ins, { training: false }) as tf.Tensor;
    });
    values.set(node.outputTensors[0]!.name, out);
    for (const t of node.inputTensors) {
      const left = uses.get(t.name)! - 1;
      uses.set(t.name, left);
      if (left === 0) {
        values.get(t.name)!.dispose();
        values.delete(t.name);
      }
    }
  }
  for (const v of values.values()) v.dispose();
}
