// Layer: train. Checkpoints: the model's state dict as safetensors (PyTorch
// names, so `torch` + `safetensors.torch.load_file` reads it), the optimizer
// state as a second safetensors file, and a JSON sidecar with the experiment
// config, epoch and metrics. Every file is written atomically and the sidecar
// last, so a crash mid-save leaves the previous complete checkpoint in place.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { loadSafetensors, saveSafetensors } from '../io/safetensors.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { dispose, type Tensor } from '../tensor/index.js';
import type { Optimizer } from '../optim/index.js';
import type { EmbeddingModel } from '../models/model.js';
import { C2F2 } from '../models/c2f2.js';
import { ResNet } from '../models/resnet.js';
import { loadImagenetWeights } from '../models/pretrained.js';
import { validateConfig, type ExperimentConfig } from './config.js';

export const SIDECAR = 'checkpoint.json';
const MODEL_FILE = 'model.safetensors';
const OPTIM_FILE = 'optimizer.safetensors';

export interface CheckpointInfo {
  format: 'rankshield-checkpoint/1';
  config: ExperimentConfig;
  /** Last completed epoch (0-based). */
  epoch: number;
  optimizerStep: number;
  metrics: Record<string, number>;
  /** Scalar state a defense carries across steps (HM's previous loss), so resuming is exact. */
  defenseState?: Record<string, number>;
  model: string;
  optimizer: string;
  savedAt: string;
}

export function saveCheckpoint(dir: string, model: EmbeddingModel, opt: Optimizer, info: Omit<CheckpointInfo, 'format' | 'model' | 'optimizer' | 'savedAt' | 'optimizerStep'>): void {
  saveSafetensors(path.join(dir, MODEL_FILE), model.stateDict(), { format: 'pt', model: model.kind });
  const o = opt.stateDict();
  saveSafetensors(path.join(dir, OPTIM_FILE), o.tensors, { step: String(o.step) });
  const sidecar: CheckpointInfo = {
    format: 'rankshield-checkpoint/1',
    ...info,
    optimizerStep: o.step,
    model: MODEL_FILE,
    optimizer: OPTIM_FILE,
    savedAt: new Date().toISOString(),
  };
  writeFileAtomicSync(path.join(dir, SIDECAR), JSON.stringify(sidecar, null, 2) + '\n');
}

/** Accepts a run directory, its checkpoint.json, or its model.safetensors. */
export function resolveCheckpointDir(p: string): string {
  if (!existsSync(p)) throw new Error(`checkpoint '${p}' does not exist`);
  const dir = statSync(p).isDirectory() ? p : path.dirname(p);
  if (!existsSync(path.join(dir, SIDECAR))) throw new Error(`'${dir}' holds no ${SIDECAR} (not a rankshield checkpoint)`);
  return dir;
}

export function readCheckpointInfo(dir: string): CheckpointInfo {
  const file = path.join(dir, SIDECAR);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const info = raw as CheckpointInfo;
  if (info.format !== 'rankshield-checkpoint/1') throw new Error(`${file}: unknown checkpoint format '${String(info.format)}'`);
  validateConfig(info.config);
  return info;
}

/** A fresh model for the config (ImageNet weights loaded when `pretrained` is set). */
export function createModel(config: ExperimentConfig): EmbeddingModel {
  switch (config.model) {
    case 'c2f2':
      if (config.pretrained) throw new Error('--pretrained applies to ResNet models only');
      return new C2F2();
    case 'resnet18':
    case 'resnet50': {
      // EST models train BatchNorm normally; every other model keeps it frozen (methods.md §2.2).
      const m = new ResNet(config.model === 'resnet18' ? 18 : 50, { frozenBatchNorm: config.defense.kind !== 'est' });
      if (config.pretrained) {
        try {
          loadImagenetWeights(m, config.pretrained);
        } catch (e) {
          m.dispose();
          throw e;
        }
      }
      return m;
    }
  }
}

/** Rebuilds the model of a checkpoint with its weights. */
export function loadCheckpoint(p: string): { model: EmbeddingModel; info: CheckpointInfo; dir: string } {
  const dir = resolveCheckpointDir(p);
  const info = readCheckpointInfo(dir);
  const model = createModel(info.config);
  try {
    loadModelWeights(dir, info, model);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, info, dir };
}

/** Copies the checkpoint's weights into an existing model of the same kind. */
export function loadModelWeights(dir: string, info: CheckpointInfo, model: EmbeddingModel): void {
  const { tensors } = loadSafetensors(path.join(dir, info.model));
  try {
    model.loadStateDict(tensors);
  } finally {
    dispose([...tensors.values()]);
  }
}

/** Restores the optimizer state saved beside the model. */
export function loadOptimizerState(dir: string, info: CheckpointInfo, opt: Optimizer): void {
  const { tensors } = loadSafetensors(path.join(dir, info.optimizer));
  try {
    opt.loadStateDict({ step: info.optimizerStep, tensors: tensors as Map<string, Tensor> });
  } finally {
    dispose([...tensors.values()]);
  }
}
