/** `compress --dry-run` as text: the plan planPipeline made, for people (--json prints the plan itself). */
import path from 'node:path';
import type { ConfigOrigins } from '../load-config.ts';
import type { PipelinePlan, StagePlan } from '../plan.ts';
import { describeSignature } from '../signature-text.ts';
import { num, pct } from './shared.ts';

const shown = (p: string) => path.relative(process.cwd(), p) || '.';

function cacheLine(s: StagePlan): string {
  const c = s.cache;
  switch (c.status) {
    case 'cached':
      return `from the cache (key ${c.key.slice(0, 12)}): ${c.outcome}, val ${pct(c.metrics.valAccuracy)}, ${num(c.metrics.params)} params`;
    case 'would run':
      return 'key' in c ? `would run (not in the cache, key ${c.key.slice(0, 12)})` : `would run (its input is ${c.after}'s output, known only once ${c.after} has run)`;
    case 'cache off':
      return 'would run (cache off)';
  }
}

export function printPlan(plan: PipelinePlan, origins: ConfigOrigins): string {
  const v = plan.data.validationSource;
  const validation = v?.kind === 'separate' ? `separate set (${v.dir ?? v.source})` : v ? `carved from train (${pct(v.fraction)}, validationSeed ${v.seed})` : '';
  const lines = [
    'dry run: nothing was run and nothing was written',
    '',
    `config:   ${origins.config.file ?? 'none'} [${origins.config.detail}]`,
    `model:    ${shown(plan.model.path)} — ${plan.model.layers} layers, ${num(plan.model.params)} params, ${num(plan.model.macs)} MACs per sample`,
    ...describeSignature(plan.signature).map((l) => `          ${l}`),
    `data:     train ${num(plan.data.train)}, validation ${num(plan.data.validation)} ${validation}, test ${num(plan.data.test)}`,
    `baseline: validation accuracy ${pct(plan.baseline.valAccuracy)} (95% Wilson interval ${pct(plan.baseline.low)}–${pct(plan.baseline.high)}), measured on ${plan.baseline.engine}`,
    `budget:   maxAccuracyDrop ${plan.budget.maxAccuracyDrop} → every stage's floor: validation accuracy ≥ ${pct(plan.budget.floor)}`,
    ...(plan.warning ? [`warning:  ${plan.warning}`] : []),
    `output:   ${shown(plan.out.path)} (${plan.out.state})`,
    `cache:    ${plan.cacheDir ? shown(plan.cacheDir) : 'off'}`,
    '',
    'stages:',
  ];
  plan.stages.forEach((s, i) => {
    lines.push(`  ${i + 1}. ${s.name}: ${cacheLine(s)}; on a budget miss: ${s.onBudgetMiss}`);
    lines.push(`     budget share ${s.budget.share} → may end ${s.budget.maxAccuracyDrop} below the baseline (cumulative); floor ${pct(s.budget.floor)}`);
    lines.push(`     options: ${JSON.stringify(s.options)}`);
  });
  if (plan.stages.length === 0) lines.push('  (none: only the baseline would be measured)');
  lines.push('', 'resolved config:', JSON.stringify(plan.config, null, 2));
  return lines.join('\n') + '\n';
}
