/**
 * `slimnet inspect <model>`: what slimnet sees in a model before anything runs — its layers with output shapes,
 * params and MACs, the input/output signature, the channel groups pruning could shrink (and what blocks the rest),
 * and which export formats can hold it. Every answer comes from the registries slimnet runs with (shape inference,
 * the channel analysis, each export format's own writer run in memory); it reads the model and writes nothing.
 */
import path from 'node:path';
import { isSlimnetError } from '../errors.ts';
import { FORMATS } from '../formats/index.ts';
import { analyzeChannels } from '../graph/channel-groups.ts';
import { countMacs } from '../graph/macs.ts';
import { loadModel } from '../io/load-model.ts';
import type { ModelIR } from '../ir.ts';
import { layerShapes } from '../prune/model-shapes.ts';
import { describeSignature, modelSignature, type ModelSignature } from '../signature.ts';
import { num, runCommand, type CliIO } from './shared.ts';

export interface InspectArgs {
  model: string;
  json: boolean;
  verbose: boolean;
}

export interface ModelInspection {
  model: { path: string; format: string; bytes: number; sha256: string };
  layers: Array<{ name: string; className: string; inputs: string[]; outputShape: number[] | null; params: number; macs: number | null }>;
  totals: { layers: number; params: number; macs: number | null };
  /** Why MACs could not be counted, when they could not. */
  macsProblem?: string;
  signature: Omit<ModelSignature, 'inputs'> & { inputs: Array<Omit<ModelSignature['inputs'][number], 'scaling'>> };
  prunableGroups: Array<{ name: string; producers: string[]; channels: number; prunable: number; blockedBy: string[]; members: string[] }>;
  /** Layers the pruning analysis does not follow (they keep the channels they touch). */
  notUnderstood: Array<{ layer: string; className: string; reason: string }>;
  formats: Record<string, { covered: boolean; problem?: string }>;
}

export async function inspect(args: InspectArgs, io: CliIO): Promise<number> {
  return runCommand(io, args, async () => {
    const { initEngine } = await import('../engine.ts');
    await initEngine('auto');
    const result = await inspectModel(path.resolve(args.model));
    io.stdout(args.json ? JSON.stringify(result, null, 2) + '\n' : printInspection(result, args.model));
    return 0;
  });
}

export async function inspectModel(modelPath: string): Promise<ModelInspection> {
  const source = await loadModel(modelPath);
  const ir = source.ir;
  const shapes = await layerShapes(ir);
  const { perLayer, problem } = macsOf(ir);
  const analysis = analyzeChannels(ir, shapes);
  const { inputs, outputs } = modelSignature(ir, {});
  const formats: ModelInspection['formats'] = {};
  for (const [id, format] of Object.entries(FORMATS)) {
    const why = await format.coverage(ir);
    formats[id] = why ? { covered: false, problem: why } : { covered: true };
  }
  const layers = ir.layers.map((l) => ({
    name: l.name,
    className: l.className,
    inputs: l.inputs,
    outputShape: shapes.get(l.name) ?? null,
    params: l.weights.reduce((n, w) => n + w.values.length, 0),
    macs: perLayer ? perLayer[l.name] ?? 0 : null,
  }));
  return {
    model: { path: modelPath, format: source.format, bytes: source.fileBytes, sha256: source.sha256 },
    layers,
    totals: { layers: layers.length, params: layers.reduce((n, l) => n + l.params, 0), macs: perLayer ? Object.values(perLayer).reduce((a, b) => a + b, 0) : null },
    ...(problem ? { macsProblem: problem } : {}),
    signature: { inputs: inputs.map(({ scaling: _scaling, ...rest }) => rest), outputs },
    prunableGroups: analysis.groups.map((g) => ({
      name: g.name,
      producers: g.producers,
      channels: g.classes.length,
      prunable: g.classes.length - g.blocked.size,
      blockedBy: [...new Set(g.blocked.values())],
      members: g.members.map((m) => m.layer),
    })),
    notUnderstood: analysis.unsupported,
    formats,
  };
}

function macsOf(ir: ModelIR): { perLayer?: Record<string, number>; problem?: string } {
  try {
    return { perLayer: countMacs(ir).perLayer };
  } catch (e) {
    if (!isSlimnetError(e)) throw e;
    return { problem: `${e.where}: ${e.message}` };
  }
}

function table(rows: string[][], rightAligned: Set<number>): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (rightAligned.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd());
}

export function printInspection(r: ModelInspection, shownPath: string): string {
  const shape = (s: number[] | null) => (s ? `[${s.join(', ')}]` : '?');
  const lines = [
    `${shownPath} (${r.model.format}): ${r.totals.layers} layers, ${num(r.totals.params)} params, ${r.totals.macs === null ? 'MACs unknown' : `${num(r.totals.macs)} MACs per sample`}, ${num(r.model.bytes)} bytes`,
    ...describeSignature(r.signature),
    '',
    ...table([
      ['layer', 'class', 'output shape', 'params', 'MACs'],
      ...r.layers.map((l) => [l.name, l.className, shape(l.outputShape), num(l.params), l.macs === null ? '?' : num(l.macs)]),
      ['total', '', '', num(r.totals.params), r.totals.macs === null ? '?' : num(r.totals.macs)],
    ], new Set([3, 4])),
  ];
  if (r.macsProblem) lines.push(`MACs unknown: ${r.macsProblem}`);
  lines.push('', r.prunableGroups.length ? 'prunable channel groups (structured pruning removes whole channels of each group together):' : 'prunable channel groups: none');
  for (const g of r.prunableGroups) {
    const blocked = g.channels - g.prunable;
    lines.push(`  ${g.name}: ${g.prunable} of ${g.channels} channels prunable${blocked ? ` (${blocked} kept: ${g.blockedBy.join('; ')})` : ''}; layers ${g.members.join(', ')}`);
  }
  for (const u of r.notUnderstood) lines.push(`  not understood: layer "${u.layer}" (${u.className}): ${u.reason}; the channels it touches stay`);
  lines.push('', 'export formats:');
  for (const [id, f] of Object.entries(r.formats)) lines.push(`  ${id.padEnd(6)} ${f.covered ? 'covered' : `not covered — ${f.problem}`}`);
  return lines.join('\n') + '\n';
}
