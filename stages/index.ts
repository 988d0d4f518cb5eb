/**
 * The explicit stage registry: every stage slimnet can run, by its fixed name. Stages not yet implemented are
 * absent; asking for one is a config error that says so.
 */
import type { StageDefinition, StageName } from '../pipeline/stage.ts';
import { exportStage } from './export.ts';

export const STAGES: Partial<Record<StageName, StageDefinition>> = {
  export: exportStage as unknown as StageDefinition,
};
