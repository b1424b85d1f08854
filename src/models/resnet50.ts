// Layer: models. ResNet-50 (resnet.ts) as a catalogue entry.
import { defineModel } from './entry.js';
import { buildResNet } from './pretrained.js';

export const resnet50Entry = defineModel({
  name: 'resnet50',
  robrankCode: 'rres50',
  summary: 'ResNet-50, 512-d embedding, for 224×224 RGB',
  imageSide: 224,
  takesPretrained: true,
  create: (o) => buildResNet(50, o),
});
