// Layer: models. RobRank's tensor names → ours. RobRank (PyTorch Lightning)
// keeps the network in `self.backbone`:
//   rc2f2          nn.Sequential(Conv2d, ReLU, MaxPool2d, Conv2d, ReLU, MaxPool2d, Flatten, Linear, ReLU, Linear)
//                  → backbone.{0,3,7,9}.{weight,bias} = our conv1, conv2, fc1, fc2 (our c2f2, docs/methods.md §3);
//   rres18/rres50  torchvision's ResNet with `fc` replaced → backbone.<torchvision name> = our names (ResNet
//                  keeps torchvision's naming; the ImageNet normalisation is outside its state dict in both).
import type { Tensor } from '../tensor/index.js';
import type { ModelKind } from './catalogue.js';

/** RobRank's backbones that have a rankshield network of the same layout (checked against the catalogue's names). */
export type RobrankBackbone = Extract<ModelKind, 'c2f2' | 'resnet18' | 'resnet50'>;

const C2F2_LAYERS: Record<string, string> = { '0': 'conv1', '3': 'conv2', '7': 'fc1', '9': 'fc2' };

/** Which of our networks a RobRank state dict holds, from its tensor names; null when none fits. */
export function robrankBackbone(names: Iterable<string>): RobrankBackbone | null {
  const set = new Set(names);
  if (set.has('backbone.0.weight') && set.has('backbone.9.weight')) return 'c2f2';
  if (set.has('backbone.layer1.0.conv3.weight')) return 'resnet50';
  if (set.has('backbone.layer1.0.conv1.weight')) return 'resnet18';
  return null;
}

/**
 * Our state-dict name for each `backbone.*` tensor of a RobRank checkpoint. Tensors outside the backbone
 * (a loss's own parameters) are returned in `ignored`; a backbone name that has no place in `kind` is an error.
 */
export function fromRobrankStateDict(sd: ReadonlyMap<string, Tensor>, kind: RobrankBackbone): { tensors: Map<string, Tensor>; ignored: string[] } {
  const tensors = new Map<string, Tensor>();
  const ignored: string[] = [];
  for (const [name, t] of sd) {
    if (!name.startsWith('backbone.')) {
      ignored.push(name);
      continue;
    }
    const rest = name.slice('backbone.'.length);
    if (kind === 'c2f2') {
      const [index, field, ...more] = rest.split('.');
      const layer = C2F2_LAYERS[index!];
      if (layer === undefined || more.length > 0 || (field !== 'weight' && field !== 'bias'))
        throw new Error(`${name} has no place in RobRank's c2f2 (backbone.{0,3,7,9}.{weight,bias})`);
      tensors.set(`${layer}.${field}`, t);
    } else {
      tensors.set(rest, t);
    }
  }
  return { tensors, ignored };
}
