/**
 * The FineTuner stages use: onnxruntime training-step graphs when every layer is covered (canTrainOnOrt), tfjs
 * otherwise. FineTuneResult.engine says which one trained ('ort', 'tfjs-wasm', ...).
 */
import type { ModelIR } from '../ir.ts';
import { canTrainOnOrt, ortFineTune } from './ort/ort-fine-tune.ts';
import { tfjsFineTune } from './tfjs-fine-tune.ts';
import type { FineTuner } from './types.ts';

export type FineTuneEngineChoice =
  | { engine: 'ort' }
  /** Why the model cannot train on onnxruntime: the first layer in the way. */
  | { engine: 'tfjs'; layer: string; className: string; reason: string };

export function chooseFineTuneEngine(ir: ModelIR): FineTuneEngineChoice {
  const support = canTrainOnOrt(ir);
  return support.ok ? { engine: 'ort' } : { engine: 'tfjs', layer: support.layer, className: support.className, reason: support.reason };
}

export const fineTune: FineTuner = (ir, opts) => (chooseFineTuneEngine(ir).engine === 'ort' ? ortFineTune(ir, opts) : tfjsFineTune(ir, opts));
