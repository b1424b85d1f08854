// ResNet embedding models: torchvision names and sizes (so ImageNet weights load
// by name), normalisation inside the model, frozen BatchNorm.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, noGrad, rand, tidy } from '../src/tensor/index.js';
import { ResNet } from '../src/models/resnet.js';

test('ResNet-18/50 have torchvision state-dict names and parameter counts (fc 512-d)', () => {
  // torchvision: 11,689,512 / 25,557,032 parameters with a 1000-way fc; ours swaps it for 512-d.
  for (const [depth, tensors, params] of [
    [18, 122, 11_689_512 - 513_000 + 262_656],
    [50, 320, 25_557_032 - 2_049_000 + 1_049_088],
  ] as const) {
    const m = new ResNet(depth);
    const sd = m.stateDict();
    assert.equal(sd.size, tensors);
    assert.equal(m.parameterCount(), params);
    assert.ok(sd.has('layer2.0.downsample.0.weight') && sd.has('layer4.1.bn2.running_var') && sd.has('fc.weight'));
    assert.deepEqual(sd.get('fc.weight')!.shape, [512, depth === 18 ? 512 : 2048]);
    m.dispose();
  }
});

test('ResNet-18 embeds [N,3,H,W] pixels; frozen BN keeps running statistics in training', () => {
  manualSeed(0);
  const m = new ResNet(18);
  tidy(() => {
    const x = rand([2, 3, 64, 64]);
    assert.deepEqual(noGrad(() => m.eval().forward(x)).shape, [2, 512]);
    const before = m.bn1.runningMean.toArray();
    m.train().forward(x);
    assert.deepEqual(m.bn1.runningMean.toArray(), before, 'frozen BN must not update running mean');
    m.setFrozenBatchNorm(false);
    m.train().forward(x);
    assert.notDeepEqual(m.bn1.runningMean.toArray(), before);
    assert.throws(() => m.forward(rand([2, 1, 64, 64])), /resnet18 expects input \[N, 3, H, W\]/);
  });
  m.dispose();
});

import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { saveSafetensors } from '../src/io/safetensors.js';
import { loadImagenetWeights } from '../src/models/pretrained.js';
import { Linear } from '../src/nn/index.js';

test('ImageNet weights load by torchvision name; the 1000-way fc is skipped; wrong files are named', () => {
  manualSeed(5);
  const source = new ResNet(18);
  const classifier = new Linear(512, 1000); // torchvision's fc, which the embedding head replaces
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'rankshield-pre-')), 'resnet18.safetensors');
  const sd = new Map([...source.stateDict()].filter(([k]) => !k.startsWith('fc.')));
  sd.set('fc.weight', classifier.weight);
  sd.set('fc.bias', classifier.bias!);
  saveSafetensors(file, sd);
  manualSeed(6);
  const target = new ResNet(18);
  const fcBefore = tidy(() => target.fc.weight.toArray());
  loadImagenetWeights(target, file);
  tidy(() => {
    assert.deepEqual(target.stateDict().get('layer3.1.conv2.weight')!.toArray(), source.stateDict().get('layer3.1.conv2.weight')!.toArray());
    assert.deepEqual(target.stateDict().get('bn1.running_var')!.toArray(), source.stateDict().get('bn1.running_var')!.toArray());
    assert.deepEqual(target.fc.weight.toArray(), fcBefore);
  });
  const r50 = new ResNet(50);
  assert.throws(() => loadImagenetWeights(r50, file), /not a torchvision resnet50 state dict \(missing/);
  for (const m of [source, target, r50, classifier]) m.dispose();
});
