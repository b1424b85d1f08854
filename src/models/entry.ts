// Layer: models. What a model's catalogue entry holds. Each model's file
// exports its entry (`defineModel` keeps its name as a literal type, so the
// list in catalogue.ts yields the `ModelKind` union).
import type { EmbeddingModel } from './model.js';

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

/** One embedding network of the catalogue: its names, the images it is built for, and its factory. */
export interface ModelEntry<N extends string = string> {
  readonly name: N;
  /** RobRank's backbone name in `dataset:model:loss` (before the defense suffix). */
  readonly robrankCode?: string;
  readonly summary: string;
  /** The image side it is built for; absent = any input. */
  readonly imageSide?: number;
  /** Whether it starts from ImageNet weights given by --pretrained. */
  readonly takesPretrained: boolean;
  /** Whether the model is a user's file (`--model-file`) rather than picked by `--model`. */
  readonly fromFile?: true;
  readonly create: (o: ModelBuildOptions) => EmbeddingModel;
}

/** A model entry with its name kept as a literal type. */
export function defineModel<const N extends string>(entry: ModelEntry<N>): ModelEntry<N> {
  return entry;
}
