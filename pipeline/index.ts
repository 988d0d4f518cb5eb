/** slimnet's library entry: what a pipeline.config.ts and programmatic users import. */
export { defineConfig, validateConfig, type SlimnetConfig, type ResolvedConfig, type StageEntry, type DataConfig } from './config.ts';
export { loadConfig } from './load-config.ts';
export { runPipeline, type PipelineResult } from './runner.ts';
export { SlimnetError } from './errors.ts';
export type { Report, StageReport } from './report.ts';
export type { Metrics } from './metrics.ts';
export type { ModelIR, LayerIR, WeightIR } from './ir.ts';
export type { StageDefinition, Stage, StageContext, StageOutput, StageName } from './stage.ts';
