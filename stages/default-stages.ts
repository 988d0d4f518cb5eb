/**
 * The default pipeline: every implemented stage, in pipeline order (what runs when neither config nor flags list
 * stages). A plain list apart from the registry (index.ts), so that loading a config loads no stage code (tfjs,
 * onnxruntime): a run replayed from the cache never needs it. index.ts checks the two agree when it loads.
 */
import type { StageName } from '../pipeline/stage.ts';

export const DEFAULT_STAGES: readonly StageName[] = ['prune', 'separable', 'quantize', 'export'];
