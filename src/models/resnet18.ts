// Layer: models. ResNet-18 (resnet.ts) as a catalogue entry: the default model for 224×224 images.
import { defineModel } from './entry.js';
import { buildResNet } from './pretrained.js';

export const resnet18Entry = defineModel({
  name: 'resnet18',
  robrankCode: 'rres18',
  summary: 'ResNet-18, 512-d embedding, for 224×224 RGB',
  imageSide: 224,
  takesPretrained: true,
  create: (o) => buildResNet(18, o),
});
