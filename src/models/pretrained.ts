// Layer: models. ImageNet initialisation from a local file (nothing is
// downloaded): a torchvision state dict saved by torch.save (.pth/.pt) or the
// same tensors as safetensors. Every backbone tensor must be present with its
// torchvision name and shape; the classifier `fc.*` is skipped because the
// embedding head replaces it (docs/methods.md §3).
import { dispose, type Tensor } from '../tensor/index.js';
import { loadSafetensors } from '../io/safetensors.js';
import { loadTorchFile, stateDictOf } from '../io/torchFile.js';
import { ResNet, type ResNetDepth } from './resnet.js';
import type { ModelBuildOptions } from './entry.js';

/** Tensors of a torchvision `.pth` (torch.save zip) or `.safetensors` file, by state-dict name. */
export function readStateDictFile(file: string): Map<string, Tensor> {
  if (file.endsWith('.safetensors')) return loadSafetensors(file).tensors;
  return stateDictOf(loadTorchFile(file), file);
}

/** Loads torchvision ImageNet weights into a ResNet's backbone; the embedding head keeps its fresh initialisation. */
export function loadImagenetWeights(model: ResNet, file: string): void {
  const all = readStateDictFile(file);
  try {
    const backbone = new Map([...all].filter(([k]) => !k.startsWith('fc.')));
    const own = new Set([...model.stateDict().keys()].filter((k) => !k.startsWith('fc.')));
    const missing = [...own].filter((k) => !backbone.has(k));
    if (missing.length > 0) {
      throw new Error(`${file}: not a torchvision ${model.kind} state dict (missing ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''})`);
    }
    const fc = new Map([...model.stateDict()].filter(([k]) => k.startsWith('fc.')));
    model.loadStateDict(new Map([...backbone, ...fc]));
  } finally {
    dispose([...all.values()]);
  }
}

/** A ResNet of a depth for a model entry: random weights, or ImageNet's when `o.pretrained` names a file. */
export function buildResNet(depth: ResNetDepth, o: ModelBuildOptions): ResNet {
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
}
