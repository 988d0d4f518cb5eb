/**
 * The last step of the channel analysis (channel-groups.ts): producers coupled through a shared class belong to
 * one group (a small union-find over producer names); each group lists its classes, the blocked ones with why,
 * and the layers whose weights it touches.
 */
import type { ChannelGroup, WeightBinding } from './channel-groups.ts';

export interface GroupInputs {
  producerClasses: Map<string, Int32Array>;
  classCount: number;
  /** Producers owning atoms of each class. */
  owners: string[][];
  /** Why each class is blocked, if it is. */
  blocked: (string | undefined)[];
  bindings: WeightBinding[];
  classNameOf: Map<string, string>;
}

export function assembleGroups(a: GroupInputs): { groups: ChannelGroup[]; classGroup: Int32Array } {
  const producerNames = [...a.producerClasses.keys()];
  const root = new Map(producerNames.map((n) => [n, n]));
  const findP = (n: string): string => (root.get(n) === n ? n : findP(root.get(n)!));
  for (const o of a.owners) for (const p of o.slice(1)) root.set(findP(p), findP(o[0]!));
  const groupOfRoot = new Map<string, ChannelGroup>();
  const classGroup = new Int32Array(a.classCount).fill(-1);
  for (const p of producerNames) {
    const r = findP(p);
    let g = groupOfRoot.get(r);
    if (!g) {
      g = { id: groupOfRoot.size, name: '', producers: [], classes: [], blocked: new Map(), members: [] };
      groupOfRoot.set(r, g);
    }
    g.producers.push(p);
    for (const k of a.producerClasses.get(p)!) {
      if (classGroup[k] !== -1) continue;
      classGroup[k] = g.id;
      g.classes.push(k);
      if (a.blocked[k] !== undefined) g.blocked.set(k, a.blocked[k]!);
    }
  }
  const groups = [...groupOfRoot.values()];
  for (const g of groups) {
    g.name = g.producers.join('+');
    for (const b of a.bindings) {
      if (!b.classes.some((k) => classGroup[k] === g.id)) continue;
      if (!g.members.some((m) => m.layer === b.layer && m.role === b.role)) g.members.push({ layer: b.layer, className: a.classNameOf.get(b.layer)!, role: b.role });
    }
  }
  return { groups, classGroup };
}
