/**
 * The explicit stage registry: every stage slimnet can run, by its fixed name. Stages not yet implemented are
 * absent; asking for one is a config error that says so.
 */
import { STAGE_NAMES, type StageDefinition, type StageName } from '../pipeline/stage.ts';
import { DEFAULT_STAGES } from './default-stages.ts';
import { exportStage } from './export.ts';
import { pruneStage } from './prune.ts';
import { quantizeStage } from './quantize.ts';
import { separableStage } from './separable.ts';

export const STAGES: Partial<Record<StageName, StageDefinition>> = {
  prune: pruneStage as unknown as StageDefinition,
  separable: separableStage as unknown as StageDefinition,
  quantize: quantizeStage as unknown as StageDefinition,
  export: exportStage as unknown as StageDefinition,
};

export { DEFAULT_STAGES };

// DEFAULT_STAGES is written out (default-stages.ts) so a config loads without stage code; it must be the registry's.
const implemented = STAGE_NAMES.filter((name) => STAGES[name] !== undefined);
if (implemented.join() !== DEFAULT_STAGES.join()) {
  throw new Error(`stages/default-stages.ts lists ${DEFAULT_STAGES.join(', ')} but the registry implements ${implemented.join(', ')}`);
}
