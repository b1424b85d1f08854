// Layer: models. Every embedding network rankshield builds by name: the one
// list the CLI's --model, the RobRank shorthand's backbones and config
// validation derive from. Each model's file exports its entry (entry.ts says
// what one holds). Adding a model: its file, one line here.
import { entryByName, namesOf } from '../util/catalogue.js';
import type { ModelEntry } from './entry.js';
import { c2f2Entry } from './c2f2.js';
import { resnet18Entry } from './resnet18.js';
import { resnet50Entry } from './resnet50.js';
import { torchscriptEntry } from './scripted.js';

export * from './entry.js';

/** Every model; for each image side the first entry built for it is the default. */
export const MODELS = [c2f2Entry, resnet18Entry, resnet50Entry, torchscriptEntry] as const;

/** c2f2 for 28×28 inputs, ResNet-18/50 for 224×224; a user's TorchScript module (`modelFile`) for either. */
export type ModelKind = (typeof MODELS)[number]['name'];

/** The catalogue as entries of the common shape (each with its name typed as a ModelKind). */
const ENTRIES: readonly ModelEntry<ModelKind>[] = MODELS;

/** The names, for messages and help texts. */
export const MODEL_NAMES: readonly ModelKind[] = namesOf(ENTRIES);

/** The models `--model` picks by name (not those read from a user's file). */
export const NAMED_MODELS: readonly ModelEntry<ModelKind>[] = ENTRIES.filter((m) => m.fromFile !== true);

/** A model entry by name; throws listing the known names. */
export function modelEntry(name: string): ModelEntry<ModelKind> {
  return entryByName(ENTRIES, name, 'model', `${namesOf(NAMED_MODELS).join(', ')}; a TorchScript file with --model-file`);
}

/** The default model for an image side (c2f2 for 28, resnet18 for 224). */
export function defaultModelFor(imageSide: number): ModelKind {
  const m = ENTRIES.find((e) => e.imageSide === imageSide);
  if (m === undefined) throw new Error(`no built-in model for ${imageSide}×${imageSide} images (use --model-file)`);
  return m.name;
}
