/**
 * Kept for callers written against its first version (the ORT fine-tuner): `withLogitsHead` is `trainingIR`
 * (training-ir.ts), which also completes BatchNormalizations that lack β or γ.
 */
export { copyWeightsByName, trainingIR as withLogitsHead, type TrainingIR as LogitsHead } from './training-ir.ts';
