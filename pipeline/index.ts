/**
 * What a pipeline.config.ts imports (`import { defineConfig } from 'slimnet'`). Kept free of tfjs and the
 * engines: the config is compiled in its own module namespace, and a heavy import here would load a second tfjs.
 * Programmatic use (runPipeline, loadConfig) is `slimnet/api`.
 */
export { defineConfig, type SlimnetConfig, type StageEntry, type DataConfig } from './config.ts';
export type { ArraysInput } from './data/arrays.ts';
export type { Report, StageReport } from './report.ts';
export type { Metrics } from './metrics.ts';
export type { StageName } from './stage.ts';
