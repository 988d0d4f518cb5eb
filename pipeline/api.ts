/** slimnet as a library (`import { runPipeline } from 'slimnet/api'`): everything the CLI does, callable directly. */
export * from './index.ts';
export { validateConfig, type ResolvedConfig } from './config.ts';
export { loadConfig, type ConfigOverrides } from './load-config.ts';
export { runPipeline, type PipelineResult, type RunOptions } from './runner.ts';
export { SlimnetError, isSlimnetError } from './errors.ts';
export type { ModelIR, LayerIR, WeightIR } from './ir.ts';
export type { StageDefinition, Stage, StageContext, StageOutput } from './stage.ts';
/** Stock @tensorflow/tfjs has no file:// loader in Node: `tf.loadLayersModel(fileLoadHandler('…/model.json'))`. */
export { fileLoadHandler } from './io/tfjs-file-handler.ts';
