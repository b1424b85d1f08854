// Layer: run. The model factory: a fresh model for an experiment config, and
// the model of a checkpoint rebuilt with its verified weights.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomicSync } from '../io/atomic.js';
import type { EmbeddingModel } from '../models/model.js';
import { modelEntry } from '../models/catalogue.js';
import { DEFENSES } from '../defense/registry.js';
import { datasetOf, type ExperimentConfig } from './config.js';
import { loadModelWeights, readCheckpoint, resolveCheckpointDir, type CheckpointInfo } from './checkpoint.js';

/**
 * A fresh model for the config. `weights: 'initial'` loads the ImageNet
 * weights of `pretrained` (a new run); 'checkpoint' leaves them out because a
 * checkpoint's weights replace them, so a run never reads that file again.
 */
export function createModel(config: ExperimentConfig, weights: 'initial' | 'checkpoint' = 'initial'): EmbeddingModel {
  const { imageSide, channels } = datasetOf(config);
  return modelEntry(config.model).create({
    // The dataset's input shape: 28×28 grey for MNIST/Fashion, 224×224 RGB otherwise (docs/datasets.md).
    inputShape: [channels, imageSide, imageSide],
    // The defense entry says whether its models train BatchNorm (EST) or keep it frozen (docs/methods.md §3).
    frozenBatchNorm: !DEFENSES[config.defense.kind].trainsBatchNorm,
    ...(weights === 'initial' && config.pretrained !== undefined ? { pretrained: config.pretrained } : {}),
    ...(config.modelFile !== undefined ? { modelFile: config.modelFile } : {}),
  });
}

/** The copy of a TorchScript run's module file kept in its run directory. */
export const MODULE_COPY = 'torchscript-module.pt';

/** Keeps a copy of a TorchScript run's module in the run directory: the run never needs the user's file again. */
export function keepModuleFile(config: ExperimentConfig, runDir: string): void {
  if (config.modelFile === undefined) return;
  const copy = path.join(runDir, MODULE_COPY);
  writeFileAtomicSync(copy, readFileSync(config.modelFile));
}

/** A checkpoint's config as the run directory can rebuild it: its own copy of the module file when it has one. */
export function runConfig(config: ExperimentConfig, checkpointDir: string): ExperimentConfig {
  if (config.modelFile === undefined) return config;
  // A commit directory sits two levels below the run directory (run/checkpoints/NNNNNN).
  for (const dir of [checkpointDir, path.dirname(path.dirname(checkpointDir))]) {
    const copy = path.join(dir, MODULE_COPY);
    if (existsSync(copy)) return { ...config, modelFile: copy };
  }
  return config;
}

/** Rebuilds the model of a checkpoint (run directory, commit directory or file in one) with its verified weights. */
export function loadCheckpoint(p: string): { model: EmbeddingModel; info: CheckpointInfo; dir: string } {
  const dir = resolveCheckpointDir(p);
  const ck = readCheckpoint(dir, []); // the weights are verified as they are read; the optimizer is not needed
  const model = createModel(runConfig(ck.info.config, ck.base), 'checkpoint');
  try {
    loadModelWeights(ck, model);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, info: ck.info, dir };
}
