/**
 * Channel dependency groups (Torch-Pruning's DepGraph idea, computed on the IR): which channels of which layers
 * must leave together, and which weight slices go with them.
 *
 * Every layer output is described by its *slots*: one atom per index of its last (channel) axis. Producers
 * (Conv2D, Dense, SeparableConv2D, Conv1D, Conv2DTranspose) create one atom per output channel. Pass-through
 * layers copy their input's slots (DepthwiseConv2D repeats each one `depth_multiplier` times; Flatten tiles them
 * once per spatial position, NHWC order); Concatenate on the channel axis concatenates them; element-wise merges
 * (Add, Multiply, ...) unite the atoms at equal positions. Atoms united this way form a *class* — the unit of
 * pruning — and producers sharing classes form a *group*. Every weight whose axis follows a tensor's slots gets a
 * binding (the class of each index on that axis), so removing classes is one generic slicing pass.
 *
 * Anything the analysis cannot follow (an unknown layer, a Reshape, softmax across channels, a model input or
 * output) blocks the atoms it touches: their classes are never removed. It never throws for an unknown layer.
 */
import type { LayerIR, ModelIR } from '../ir.ts';
import { assembleGroups } from './channel-group-assembly.ts';
import { inferShapes } from './shapes.ts';
import { concatTyped } from '../typed-arrays.ts';

export type ChannelRole = 'out' | 'in' | 'through';

/** One weight axis that follows a tensor's channels: `classes[i]` is the class of index i on `axis`. */
export interface WeightBinding {
  layer: string;
  weight: string;
  axis: number;
  classes: Int32Array;
  role: ChannelRole;
}

export interface ChannelGroup {
  id: number;
  /** The producers' names joined by '+', e.g. `conv_a+proj` for a residual pair. */
  name: string;
  producers: string[];
  /** The group's classes, in the first producer's channel order. */
  classes: number[];
  /** Classes that must stay, with why (`model output`, `layer "r" (Reshape) is not understood`, ...). */
  blocked: Map<number, string>;
  /** Layers whose weights change when one of the group's classes goes. */
  members: { layer: string; className: string; role: ChannelRole }[];
}

export interface ChannelAnalysis {
  /** Class of every index of every layer output's last axis (absent when the analysis could not tell). */
  slots: Map<string, Int32Array>;
  /** Class of each output channel of each producer layer. */
  producerClasses: Map<string, Int32Array>;
  classCount: number;
  /** Group id of each class; -1 for classes no producer owns (model inputs, outputs of unknown layers). */
  classGroup: Int32Array;
  groups: ChannelGroup[];
  bindings: WeightBinding[];
  /** Layers the analysis does not understand; each blocks only the classes it touches. */
  unsupported: { layer: string; className: string; reason: string }[];
}

const PASS_THROUGH = new Set([
  'ReLU', 'LeakyReLU', 'ELU', 'ThresholdedReLU', 'Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise',
  'GaussianDropout', 'AlphaDropout', 'MaxPooling1D', 'MaxPooling2D', 'AveragePooling1D', 'AveragePooling2D',
  'GlobalAveragePooling1D', 'GlobalAveragePooling2D', 'GlobalMaxPooling1D', 'GlobalMaxPooling2D', 'ZeroPadding2D',
  'Cropping2D', 'UpSampling2D',
]);
const ELEMENTWISE_MERGES = new Set(['Add', 'Multiply', 'Subtract', 'Average', 'Maximum', 'Minimum']);

class Unsupported extends Error {}

/** Builds the groups. `shapes` defaults to inferShapes(ir); pass shapes read from tfjs for layers it lacks. */
export function analyzeChannels(ir: ModelIR, shapes?: Map<string, number[]>): ChannelAnalysis {
  return new Analyzer(ir, shapes ?? inferShapes(ir)).run();
}

class Analyzer {
  private parent: number[] = [];
  private blockReason: (string | undefined)[] = [];
  private owner: (string | undefined)[] = [];
  private atomSlots = new Map<string, Int32Array>();
  private atomProducers = new Map<string, Int32Array>();
  private rawBindings: WeightBinding[] = [];
  private unsupported: ChannelAnalysis['unsupported'] = [];

  constructor(
    private readonly ir: ModelIR,
    private readonly shapes: Map<string, number[]>,
  ) {}

  run(): ChannelAnalysis {
    for (const layer of this.ir.layers) {
      const pending = this.rawBindings.length;
      const firstAtom = this.parent.length;
      try {
        this.atomSlots.set(layer.name, this.visit(layer));
      } catch (e) {
        if (!(e instanceof Unsupported)) throw e;
        this.rawBindings.length = pending; // a half-understood layer keeps none of its bindings
        this.atomProducers.delete(layer.name);
        for (let a = firstAtom; a < this.parent.length; a++) this.owner[a] = undefined; // no group may own them
        this.unsupported.push({ layer: layer.name, className: layer.className, reason: e.message });
        const why = `layer "${layer.name}" (${layer.className}) is not understood: ${e.message}`;
        for (const input of layer.inputs) this.block(this.atomSlots.get(input), why);
        const out = this.shapes.get(layer.name);
        if (out && out.length > 0) this.atomSlots.set(layer.name, this.fresh(out[out.length - 1]!, undefined, why));
      }
    }
    for (const name of this.ir.outputs) this.block(this.atomSlots.get(name), 'model output');
    return this.finish();
  }

  private fresh(n: number, owner?: string, blocked?: string): Int32Array {
    const ids = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      ids[i] = this.parent.length;
      this.parent.push(this.parent.length);
      this.owner.push(owner);
      this.blockReason.push(blocked);
    }
    return ids;
  }

  private find(a: number): number {
    while (this.parent[a] !== a) {
      this.parent[a] = this.parent[this.parent[a]!]!;
      a = this.parent[a]!;
    }
    return a;
  }

  private unite(a: number, b: number): void {
    const [ra, rb] = [this.find(a), this.find(b)];
    if (ra !== rb) this.parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }

  private block(atoms: Int32Array | undefined, reason: string): void {
    if (atoms) for (const a of atoms) this.blockReason[a] ??= reason;
  }

  private bind(layer: LayerIR, weight: string, axis: number, atoms: Int32Array, role: ChannelRole, optional = false): void {
    const w = layer.weights.find((x) => x.name === weight);
    if (!w) {
      if (optional) return;
      throw new Unsupported(`has no weight "${weight}"`);
    }
    if (w.shape[axis] !== atoms.length) throw new Unsupported(`weight "${weight}" has ${w.shape[axis]} entries on axis ${axis}, expected ${atoms.length}`);
    this.rawBindings.push({ layer: layer.name, weight, axis, classes: atoms, role });
  }

  private inputSlots(layer: LayerIR): Int32Array[] {
    return layer.inputs.map((n) => {
      const s = this.atomSlots.get(n);
      if (!s) throw new Unsupported(`its input "${n}" has channels the analysis could not follow`);
      return s;
    });
  }

  private single(layer: LayerIR): Int32Array {
    const inputs = this.inputSlots(layer);
    if (inputs.length !== 1) throw new Unsupported(`expects one input, has ${inputs.length}`);
    return inputs[0]!;
  }

  private outShape(layer: LayerIR): number[] {
    const s = this.shapes.get(layer.name);
    if (!s || s.length === 0) throw new Unsupported('its output shape is unknown');
    return s;
  }

  private visit(layer: LayerIR): Int32Array {
    const c = layer.config;
    const format = c.data_format;
    if (format !== undefined && format !== null && format !== 'channels_last') throw new Unsupported(`data_format ${String(format)}`);
    const cls = layer.className;
    if (cls === 'InputLayer') {
      const s = this.outShape(layer);
      return this.fresh(s[s.length - 1]!, undefined, 'model input');
    }
    if (PASS_THROUGH.has(cls)) return this.single(layer);
    if (cls === 'Activation') {
      const input = this.single(layer);
      if (c.activation === 'softmax') this.block(input, `layer "${layer.name}" applies softmax across channels`);
      return input;
    }
    if (cls === 'Softmax') {
      const input = this.single(layer);
      this.block(input, `layer "${layer.name}" applies softmax across channels`);
      return input;
    }
    if (cls === 'BatchNormalization') return this.batchNorm(layer);
    if (cls === 'PReLU') {
      const input = this.single(layer);
      const alpha = layer.weights.find((w) => w.name === 'alpha');
      if (alpha && alpha.shape[alpha.shape.length - 1] === input.length && input.length > 1) this.bind(layer, 'alpha', alpha.shape.length - 1, input, 'through');
      return input;
    }
    if (cls === 'Flatten') {
      const input = this.single(layer);
      const spatial = this.outShape(layer)[0]! / input.length;
      if (!Number.isInteger(spatial)) throw new Unsupported('output size is not a multiple of its input channels');
      const out = new Int32Array(input.length * spatial);
      for (let s = 0; s < spatial; s++) out.set(input, s * input.length); // NHWC: feature (h·W + w)·C + c
      return out;
    }
    if (cls === 'DepthwiseConv2D') {
      const input = this.single(layer);
      const out = repeatEach(input, depthMultiplier(layer));
      this.bind(layer, 'depthwise_kernel', 2, input, 'through');
      this.bind(layer, 'bias', 0, out, 'through', true);
      return out;
    }
    if (ELEMENTWISE_MERGES.has(cls)) return this.uniteInputs(layer);
    if (cls === 'Concatenate') return this.concatenate(layer);
    if (cls === 'Dense' || cls === 'Conv2D' || cls === 'Conv1D' || cls === 'Conv2DTranspose' || cls === 'SeparableConv2D') {
      return this.producer(layer);
    }
    throw new Unsupported('no channel rule for this layer class');
  }

  private batchNorm(layer: LayerIR): Int32Array {
    const input = this.single(layer);
    const rank = this.outShape(layer).length;
    const raw = Array.isArray(layer.config.axis) && layer.config.axis.length === 1 ? layer.config.axis[0] : (layer.config.axis ?? -1);
    if (raw !== -1 && raw !== rank) throw new Unsupported(`normalises axis ${JSON.stringify(layer.config.axis)}, not the channel axis`);
    for (const w of ['gamma', 'beta', 'moving_mean', 'moving_variance']) this.bind(layer, w, 0, input, 'through', w === 'gamma' || w === 'beta');
    return input;
  }

  private uniteInputs(layer: LayerIR): Int32Array {
    const inputs = this.inputSlots(layer);
    if (inputs.length < 2) throw new Unsupported(`merges ${inputs.length} input(s)`);
    const first = inputs[0]!;
    if (inputs.some((s) => s.length !== first.length)) throw new Unsupported('merges inputs with different channel counts (broadcast)');
    for (const s of inputs.slice(1)) for (let i = 0; i < first.length; i++) this.unite(first[i]!, s[i]!);
    return first;
  }

  private concatenate(layer: LayerIR): Int32Array {
    const rank = this.outShape(layer).length;
    const raw = typeof layer.config.axis === 'number' ? layer.config.axis : -1;
    const axis = raw < 0 ? rank + raw : raw - 1; // Keras counts the batch axis
    if (axis !== rank - 1) return this.uniteInputs(layer); // along H or W: channel i of every input meets
    return concatTyped(this.inputSlots(layer), Int32Array);
  }

  private producer(layer: LayerIR): Int32Array {
    const c = layer.config;
    const input = this.single(layer);
    if (typeof c.groups === 'number' && c.groups !== 1) throw new Unsupported(`grouped convolution (groups ${c.groups})`);
    const outShape = this.outShape(layer);
    const softmax = c.activation === 'softmax' ? `layer "${layer.name}" applies softmax across its units` : undefined;
    const out = this.fresh(outShape[outShape.length - 1]!, layer.name, softmax);
    switch (layer.className) {
      case 'Dense':
        this.bind(layer, 'kernel', 0, input, 'in');
        this.bind(layer, 'kernel', 1, out, 'out');
        break;
      case 'Conv2D':
        this.bind(layer, 'kernel', 2, input, 'in');
        this.bind(layer, 'kernel', 3, out, 'out');
        break;
      case 'Conv1D':
        this.bind(layer, 'kernel', 1, input, 'in');
        this.bind(layer, 'kernel', 2, out, 'out');
        break;
      case 'Conv2DTranspose':
        this.bind(layer, 'kernel', 3, input, 'in');
        this.bind(layer, 'kernel', 2, out, 'out');
        break;
      case 'SeparableConv2D': {
        this.bind(layer, 'depthwise_kernel', 2, input, 'in');
        this.bind(layer, 'pointwise_kernel', 2, repeatEach(input, depthMultiplier(layer)), 'in');
        this.bind(layer, 'pointwise_kernel', 3, out, 'out');
        break;
      }
    }
    this.bind(layer, 'bias', 0, out, 'out', true);
    this.atomProducers.set(layer.name, out);
    return out;
  }

  /** Atoms -> dense class ids; producers sharing a class -> one group. */
  private finish(): ChannelAnalysis {
    const classOfRoot = new Map<number, number>();
    const classOf = (atom: number): number => {
      const root = this.find(atom);
      let k = classOfRoot.get(root);
      if (k === undefined) classOfRoot.set(root, (k = classOfRoot.size));
      return k;
    };
    const toClasses = (atoms: Int32Array) => Int32Array.from(atoms, classOf);
    const producerClasses = new Map([...this.atomProducers].map(([n, atoms]) => [n, toClasses(atoms)] as const));
    const slots = new Map([...this.atomSlots].map(([n, atoms]) => [n, toClasses(atoms)] as const));
    const bindings = this.rawBindings.map((b) => ({ ...b, classes: toClasses(b.classes) }));
    // Make sure every atom has a class id, then collect reasons and owners per class.
    for (let a = 0; a < this.parent.length; a++) classOf(a);
    const classCount = classOfRoot.size;
    const blocked: (string | undefined)[] = new Array(classCount);
    const owners: string[][] = Array.from({ length: classCount }, () => []);
    for (let a = 0; a < this.parent.length; a++) {
      const k = classOf(a);
      blocked[k] ??= this.blockReason[a];
      const o = this.owner[a];
      if (o !== undefined && !owners[k]!.includes(o)) owners[k]!.push(o);
    }
    const classNameOf = new Map(this.ir.layers.map((l) => [l.name, l.className]));
    const { groups, classGroup } = assembleGroups({ producerClasses, classCount, owners, blocked, bindings, classNameOf });
    return { slots, producerClasses, classCount, classGroup, groups, bindings, unsupported: this.unsupported };
  }
}

/** From the depthwise kernel [kh, kw, C, m]: tfjs's SeparableConv2D leaves depth_multiplier out of its config. */
function depthMultiplier(layer: LayerIR): number {
  const k = layer.weights.find((w) => w.name === 'depthwise_kernel');
  if (k?.shape.length === 4) return k.shape[3]!;
  return typeof layer.config.depth_multiplier === 'number' ? layer.config.depth_multiplier : 1;
}

function repeatEach(a: Int32Array, times: number): Int32Array {
  const out = new Int32Array(a.length * times);
  for (let i = 0; i < a.length; i++) out.fill(a[i]!, i * times, (i + 1) * times);
  return out;
}
