// Layer: models. Every embedding network rankshield builds by name: the one
// list the CLI's --model, the RobRank shorthand's backbones and config
// validation derive from.
import type { EmbeddingModel } from './model.js';
import { C2F2 } from './c2f2.js';
import { ResNet } from './resnet.js';
import { loadImagenetWeights } from './pretrained.js';
import { ScriptedModel } from './scripted.js';

/** c2f2 for 28×28 inputs, ResNet-18/50 for 224×224; a user's TorchScript module (`modelFile`) for either. */
export type ModelKind = 'c2f2' | 'resnet18' | 'resnet50' | 'torchscript';

/** What building a model needs besides its name. */
export interface ModelBuildOptions {
  /** The dataset's image shape C,H,W. */
  readonly inputShape: [number, number, number];
  /** ResNets: keep BatchNorm in eval mode while training (every defense but EST). */
  readonly frozenBatchNorm: boolean;
  /** ImageNet weights to start from; absent when the weights come from a checkpoint. */
  readonly pretrained?: string;
  /** torchscript: the module file. */
  readonly modelFile?: string;
}

export interface ModelEntry {
  readonly name: ModelKind;
  /** RobRank's backbone name in `dataset:model:loss` (before the defense suffix). */
  readonly robrankCode?: string;
  readonly summary: string;
  /** The image side it is built for; absent = any input. */
  readonly imageSide?: number;
  /** Whether it starts from ImageNet weights given by --pretrained. */
  readonly takesPretrained: boolean;
  readonly create: (o: ModelBuildOptions) => EmbeddingModel;
}

function resnet(depth: 18 | 50) {
  return (o: ModelBuildOptions): EmbeddingModel => {
    const m = new ResNet(depth, { frozenBatchNorm: o.frozenBatchNorm });
    if (o.pretrained !== undefined) {
      try {
        loadImagenetWeights(m, o.pretrained);
      } catch (e) {
        m.dispose();
        throw e;
      }
    }
    return m;
  };
}

/** Every model by name; for each image side the first entry built for it is the default. */
export const MODELS: readonly ModelEntry[] = [
  {
    name: 'c2f2',
    robrankCode: 'rc2f2',
    summary: "RobRank's c2f2 (2 conv + 2 fc, 512-d) for 28×28 grey images",
    imageSide: 28,
    takesPretrained: false,
    create: () => new C2F2(),
  },
  {
    name: 'resnet18',
    robrankCode: 'rres18',
    summary: 'ResNet-18, 512-d embedding, for 224×224 RGB',
    imageSide: 224,
    takesPretrained: true,
    create: resnet(18),
  },
  {
    name: 'resnet50',
    robrankCode: 'rres50',
    summary: 'ResNet-50, 512-d embedding, for 224×224 RGB',
    imageSide: 224,
    takesPretrained: true,
    create: resnet(50),
  },
  {
    name: 'torchscript',
    summary: "a user's TorchScript module (torch.jit.save; N×C×H×W in [0, 1] → N×D), any input size",
    takesPretrained: false,
    create: (o) => {
      if (o.modelFile === undefined) throw new Error('model torchscript needs its module file');
      return ScriptedModel.load(o.modelFile, o.inputShape);
    },
  },
];

/** The names, for messages and help texts. */
export const MODEL_NAMES: readonly ModelKind[] = MODELS.map((m) => m.name);

/** A model entry by name; throws listing the known names. */
export function modelEntry(name: string): ModelEntry {
  const m = MODELS.find((e) => e.name === name);
  if (m === undefined)
    throw new Error(`unknown model '${name}' (known: ${MODEL_NAMES.filter((n) => n !== 'torchscript').join(', ')}; a TorchScript file with --model-file)`);
  return m;
}

/** The default model for an image side (c2f2 for 28, resnet18 for 224). */
export function defaultModelFor(imageSide: number): ModelKind {
  const m = MODELS.find((e) => e.imageSide === imageSide);
  if (m === undefined) throw new Error(`no built-in model for ${imageSide}×${imageSide} images (use --model-file)`);
  return m.name;
}
