/**
 * Channel dependency groups (Torch-Pruning's DepGraph idea, computed on the IR): which channels of which layers
 * must leave together, and which weight slices go with them.
 *
 * Every layer output is described by its *slots*: one atom per index of its last (channel) axis. Each layer class
 * says how its slots come about (its family's `channels` rule, pipeline/layers/): producers (Conv2D, Dense, ...)
 * create one atom per output channel; pass-through layers copy their input's slots (DepthwiseConv2D repeats each
 * one `depth_multiplier` times; Flatten tiles them once per spatial position, NHWC order); Concatenate on the
 * channel axis concatenates them; element-wise merges (Add, Multiply, ...) unite the atoms at equal positions. Atoms
 * united this way form a *class* — the unit of pruning — and producers sharing classes form a *group*. Every weight
 * whose axis follows a tensor's slots gets a binding (the class of each index on that axis), so removing classes is
 * one generic slicing pass.
 *
 * Anything the analysis cannot follow (a class slimnet does not know, a class without a channel rule such as
 * Reshape, softmax across channels, a model input or output) blocks the atoms it touches: their classes are never
 * removed. It never throws for an unknown layer.
 *
 * Worked example — conv_a → BN → relu → Add ← proj, then GlobalAveragePooling → Dense head:
 * conv_a and proj each create 4 atoms; BN and relu pass conv_a's through (BN binds gamma/beta/statistics to
 * them); Add unites atom i of conv_a with atom i of proj, so 4 classes each hold one channel of both; the pool
 * passes them on and the head binds its kernel rows to them. Group `conv_a+proj` has 4 classes; removing class k
 * slices conv_a's and proj's filter k, BN's entry k and the head's kernel row k together.
 */
import type { LayerIR, ModelIR } from '../ir.ts';
import { layerClass } from '../layers/registry.ts';
import type { ChannelContext, ChannelRole } from '../layers/types.ts';
import { assembleGroups } from './channel-group-assembly.ts';
import { inferShapes } from './shapes.ts';

export type { ChannelRole } from '../layers/types.ts';

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
    const cls = layerClass(layer.className);
    if (!cls) throw new Unsupported(`slimnet does not support ${layer.className} layers`);
    if (!cls.channels) throw new Unsupported(`${layer.className} layers have no channel rule`);
    return cls.channels(this.context(layer));
  }

  /** What a class's channel rule may do with `layer` (see ChannelContext). */
  private context(layer: LayerIR): ChannelContext {
    return {
      layer,
      outShape: () => this.outShape(layer),
      input: () => this.single(layer),
      inputs: () => this.inputSlots(layer),
      fresh: (count, opts = {}) => {
        const atoms = this.fresh(count, opts.producer ? layer.name : undefined, opts.blocked);
        if (opts.producer) this.atomProducers.set(layer.name, atoms);
        return atoms;
      },
      bind: (weight, axis, atoms, role, optional) => this.bind(layer, weight, axis, atoms, role, optional),
      block: (atoms, reason) => this.block(atoms, reason),
      unite: (a, b) => {
        for (let i = 0; i < a.length; i++) this.unite(a[i]!, b[i]!);
      },
      refuse: (reason) => {
        throw new Unsupported(reason);
      },
    };
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
