// ResNet embedding models: torchvision names and sizes (so ImageNet weights load
// by name), normalisation inside the model, frozen BatchNorm.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, noGrad, rand, tidy } from '../src/tensor/index.js';
import { ResNet } from '../src/models/resnet.js';

test('ResNet-18/50 have torchvision state-dict names and parameter counts (fc 512-d)', () => {
  // torchvision: 11,689,512 / 25,557,032 parameters with a 1000-way fc; ours swaps it for 512-d.
  for (const [depth, tensors, params] of [[18, 122, 11_689_512 - 513_000 + 262_656], [50, 320, 25_557_032 - 2_049_000 + 1_049_088]] as const) {
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
