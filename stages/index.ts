/**
 * The explicit stage registry: every stage slimnet can run, by its fixed name. Stages not yet implemented are
 * absent; asking for one is a config error that says so.
 */
import { STAGE_NAMES, type StageDefinition, type StageName } from '../pipeline/stage.ts';
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

/** The default pipeline: every implemented stage, in pipeline order (what runs when neither config nor flags list stages). */
export const DEFAULT_STAGES: readonly StageName[] = STAGE_NAMES.filter((name) => STAGES[name] !== undefined);
