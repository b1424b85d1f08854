// Bring your own model: TorchScript embedding models and RobRank checkpoints.
// Fixtures come from test/fixtures/make_model_fixtures.py (PyTorch 1.13); the
// tests only read them (CI has no PyTorch).
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { grad, noGrad, Tensor, tidy } from '../src/tensor/index.js';
import { InMemoryImageDataset, loadSmallDataset } from '../src/data/index.js';
import { ERS_ATTACK_KINDS } from '../src/attack/index.js';
import { runSwipe } from '../src/eval/swipe.js';
import { ScriptedModel } from '../src/models/scripted.js';
import { fromRobrankStateDict } from '../src/models/robrank.js';
import { ResNet } from '../src/models/resnet.js';
import { loadCheckpoint } from '../src/run/model-factory.js';
import { readCheckpoint } from '../src/run/checkpoint.js';
import { importRobrank, robrankConfig } from '../src/cli/import.js';
import { trainCommand } from '../src/cli/train.js';
import { metricByName } from '../src/metric/metric.js';
import { maxAbsDiff, near } from './helpers/assert.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures');
const fixture = (name: string): string => path.join(FIXTURES, name);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'rankshield-byom-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface TinyReference {
  shape: [number, number, number, number];
  input: number[];
  weights: number[];
  embedding: number[];
  inputGradient: number[];
  parameters: string[];
  buffers: string[];
}
const tiny = JSON.parse(readFileSync(fixture('tiny_embed.json'), 'utf8')) as TinyReference;

test('a scripted model embeds as PyTorch does, under its own parameter and buffer names', () => {
  const model = ScriptedModel.load(fixture('tiny_embed.pt'), [1, 28, 28]);
  try {
    assert.equal(model.embeddingDim, 16);
    assert.deepEqual(
      model.namedParameters().map(([n]) => n),
      tiny.parameters,
    );
    assert.deepEqual(
      model.namedBuffers().map(([n]) => n),
      tiny.buffers,
    );
    model.eval();
    const out = noGrad(() => tidy(() => model.forward(Tensor.fromTypedArray(new Float32Array(tiny.input), tiny.shape)).toArray()));
    assert.ok(maxAbsDiff(out, tiny.embedding) < 1e-5, 'embeddings differ from PyTorch');
  } finally {
    model.dispose();
  }
});

test('input gradients flow through the scripted graph and equal PyTorch', () => {
  const model = ScriptedModel.load(fixture('tiny_embed.pt'), [1, 28, 28]).eval();
  try {
    const g = tidy(() => {
      const x = Tensor.fromTypedArray(new Float32Array(tiny.input), tiny.shape).requiresGrad_(true);
      const w = Tensor.fromTypedArray(new Float32Array(tiny.weights), [tiny.shape[0], 16]);
      const [gx] = grad([model.forward(x).mul(w).sum()], [x]);
      return gx!.toArray();
    });
    assert.ok(maxAbsDiff(g, tiny.inputGradient) < 1e-5, 'input gradients differ from PyTorch');
  } finally {
    model.dispose();
  }
});

test('a parameter update through our handles changes what the scripted module computes', () => {
  const model = ScriptedModel.load(fixture('tiny_embed.pt'), [1, 28, 28]).eval();
  try {
    const x = Tensor.fromTypedArray(new Float32Array(tiny.input), tiny.shape);
    const before = noGrad(() => tidy(() => model.forward(x).toArray()));
    const bias = model.stateDict().get('fc.bias')!;
    noGrad(() => bias.add_(1));
    const afterUpdate = noGrad(() => tidy(() => model.forward(x).toArray()));
    for (let i = 0; i < before.length; i++) near(afterUpdate[i]! - before[i]!, 1, 1e-5, `embedding[${i}] shift after fc.bias += 1`);
    // train()/eval() reach the module: in training mode its BatchNorm uses batch statistics.
    model.train();
    const trained = noGrad(() => tidy(() => model.forward(x).toArray()));
    assert.ok(maxAbsDiff(trained, afterUpdate) > 1e-3);
    x.dispose();
  } finally {
    model.dispose();
  }
});

test('the TorchScript archive rankshield writes loads again with the embeddings rankshield computed', () => {
  const model = ScriptedModel.load(fixture('tiny_embed.pt'), [1, 28, 28]).eval();
  const file = path.join(tmp, 'tuned.pt');
  try {
    noGrad(() => model.stateDict().get('fc.weight')!.mul_(0.5));
    const x = Tensor.fromTypedArray(new Float32Array(tiny.input), tiny.shape);
    const ours = noGrad(() => tidy(() => model.forward(x).toArray()));
    model.saveTorchScript(file);
    const again = ScriptedModel.load(file, [1, 28, 28]).eval();
    const theirs = noGrad(() => tidy(() => again.forward(x).toArray()));
    assert.deepEqual(Array.from(theirs), Array.from(ours));
    again.dispose();
    x.dispose();
  } finally {
    model.dispose();
  }
});

test('bad TorchScript files give errors that say what is wrong', () => {
  const load = (name: string): ScriptedModel => ScriptedModel.load(fixture(name), [1, 28, 28]);
  assert.throws(() => load('bad_shape.pt'), /maps \[2, 1, 28, 28\] to \[2, 4, 7, 7\], not to \[2, D\] embeddings/);
  assert.throws(() => load('nan_output.pt'), /not finite \(NaN or infinity\)/);
  assert.throws(() => load('tiny_state_dict.pt'), /a torch\.save archive .* not a TorchScript module/);
  assert.throws(() => load('legacy.ckpt'), /legacy \(non-zip\) torch\.save file/);
  assert.throws(() => load('no-such-file.pt'), /cannot read/);
  assert.throws(() => ScriptedModel.load(fixture('tiny_embed.pt'), [3, 224, 224]), /forward on \[2, 3, 224, 224\] failed/);
  const good = readFileSync(fixture('tiny_embed.pt'));
  const bad = (bytes: Uint8Array): ScriptedModel => ScriptedModel.fromBytes(bytes, [1, 28, 28], 'hostile.pt');
  assert.throws(() => bad(new Uint8Array(1000).fill(7)), /not a TorchScript archive \(not a zip file\)/);
  assert.throws(() => bad(good.subarray(0, good.length - 40)), /not a valid TorchScript archive/);
  const flipped = Uint8Array.from(good);
  flipped[Math.floor(flipped.length / 2)]! ^= 0xff;
  assert.throws(() => bad(flipped), /not a valid TorchScript archive/);
  // A zip whose directory declares a 2^31-byte entry: refused before anything is inflated.
  const bomb = Uint8Array.from(good);
  const view = Buffer.from(bomb.buffer);
  const central = view.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  view.writeUInt32LE(0x80000000, central + 24);
  assert.throws(() => bad(bomb), /limit zip\.maxEntryBytes/);
  // A module on the wrong input shape at call time.
  const model = ScriptedModel.load(fixture('tiny_embed.pt'), [1, 28, 28]);
  assert.throws(() => tidy(() => model.forward(Tensor.fromTypedArray(new Float32Array(3 * 28 * 28), [1, 3, 28, 28]))), /expects input \[N, 1, 28, 28\]/);
  model.dispose();
});

// ------------------------------------------------------------------ RobRank checkpoints

test('a RobRank checkpoint imports as a run whose c2f2 embeds as PyTorch does', () => {
  const out = path.join(tmp, 'robrank');
  const info = importRobrank(fixture('robrank_c2f2.ckpt'), out);
  assert.equal(info.config.dataset, 'fashion');
  assert.equal(info.config.model, 'c2f2');
  assert.equal(info.config.metric, 'N');
  assert.equal(info.epoch, 7);
  assert.equal(readCheckpoint(out).verified, true);
  const { model } = loadCheckpoint(out);
  try {
    const ref = (JSON.parse(readFileSync(fixture('robrank_c2f2.json'), 'utf8')) as { embedding: number[] }).embedding;
    const out2 = noGrad(() =>
      tidy(() =>
        model
          .eval()
          .forward(Tensor.fromTypedArray(new Float32Array(tiny.input), tiny.shape))
          .toArray(),
      ),
    );
    assert.ok(maxAbsDiff(out2, ref) < 1e-4);
  } finally {
    model.dispose();
  }
  assert.throws(() => importRobrank(fixture('robrank_c2f2.ckpt'), out), /already holds a run/);
});

test('RobRank configs: hyper-parameters first, then --config or the log directory; the backbone must fit', () => {
  const hp = new Map<string | number, string>([
    ['dataset', 'fashion'],
    ['loss', 'ptripletN'],
  ]);
  assert.equal(robrankConfig('x.ckpt', hp, 'c2f2', 'mnist:rc2f2p:ptripletE').defense.kind, 'act');
  assert.equal(robrankConfig('x.ckpt', hp, 'c2f2', 'mnist:rc2f2p:ptripletE').dataset, 'fashion');
  const fromDir = robrankConfig('/r/logs_cub-rres18ghmetsmi-ptripletN/lightning_logs/version_0/checkpoints/epoch=74.ckpt', undefined, 'resnet18');
  assert.equal(fromDir.dataset, 'cub');
  assert.equal(fromDir.defense.kind, 'hm');
  assert.throws(() => robrankConfig('x.ckpt', undefined, 'c2f2'), /give --config/);
  assert.throws(() => robrankConfig('x.ckpt', undefined, 'resnet18', 'cub:rres50:ptripletN'), /tensors are a resnet18, but .* names a resnet50/);
});

test('RobRank ResNet names map onto ours one to one', () => {
  const model = new ResNet(18);
  try {
    const robrank = new Map([...model.stateDict()].map(([k, t]) => [`backbone.${k}`, t]));
    robrank.set('lossfunc.proxies', model.stateDict().get('fc.bias')!);
    const { tensors, ignored } = fromRobrankStateDict(robrank, 'resnet18');
    assert.deepEqual([...tensors.keys()], [...model.stateDict().keys()]);
    assert.deepEqual(ignored, ['lossfunc.proxies']);
  } finally {
    model.dispose();
  }
});

test('hostile and legacy checkpoints are refused with the reason', () => {
  assert.throws(() => importRobrank(fixture('malicious.pt'), path.join(tmp, 'm')), /unsupported pickle global os\.system/);
  assert.throws(() => importRobrank(fixture('legacy.ckpt'), path.join(tmp, 'l')), /legacy \(non-zip\) torch\.save format/);
  assert.throws(() => importRobrank(fixture('tiny_state_dict.pt'), path.join(tmp, 's')), /no state_dict in the checkpoint/);
  const junk = path.join(tmp, 'junk.ckpt');
  writeFileSync(junk, 'not a checkpoint at all');
  assert.throws(() => importRobrank(junk, path.join(tmp, 'j')), /not a zip file/);
});

// ------------------------------------------------------------------ the same weights, scripted and native

let slice: InMemoryImageDataset;
before(async () => {
  const { test: t } = await loadSmallDataset('fashion');
  const n = 192;
  const bytes = t.channels * t.height * t.width;
  slice = new InMemoryImageDataset({
    name: 'fashion',
    split: 'test',
    source: 'first 192 test images',
    channels: t.channels,
    height: t.height,
    width: t.width,
    pixels: t.pixels.slice(0, n * bytes),
    labels: t.labels.slice(0, n),
  });
});

test('a swipe of the TorchScript c2f2 equals the swipe of the same weights in our c2f2', async () => {
  const out = path.join(tmp, 'robrank-swipe');
  importRobrank(fixture('robrank_c2f2.ckpt'), out);
  const native = loadCheckpoint(out).model;
  const scripted = ScriptedModel.load(fixture('c2f2_traced.pt'), [1, 28, 28]);
  try {
    const budget = { epsilon: 77 / 255, alpha: 3 / 255, steps: 2 };
    const profile = { name: 'rob28-tiny', usedFor: 'tests', batchSize: 32, runs: ERS_ATTACK_KINDS.map((attack) => ({ attack, budget })) };
    const strip = (r: Awaited<ReturnType<typeof runSwipe>>): object => ({ ...r, seconds: 0, gallerySeconds: 0 });
    const a = strip(await runSwipe(native, slice, metricByName('N'), { profile, maxIter: 2, seed: 3 }));
    const b = strip(await runSwipe(scripted, slice, metricByName('N'), { profile, maxIter: 2, seed: 3 }));
    assert.deepEqual(b, a);
  } finally {
    native.dispose();
    scripted.dispose();
  }
});

test('train --model-file fine-tunes the scripted module; its model.pt loads in libtorch with the same embeddings', async () => {
  const out = path.join(tmp, 'tuned');
  // The user's file is read once: the run keeps its own copy, so deleting the original breaks nothing.
  const given = path.join(tmp, 'to-delete.pt');
  copyFileSync(fixture('tiny_embed.pt'), given);
  const code = await trainCommand.run([
    '--dataset',
    'fashion',
    '--model-file',
    given,
    '--epochs',
    '1',
    '--max-batches',
    '2',
    '--batch',
    '32',
    '--out',
    out,
    '--quiet',
    '--json',
  ]);
  assert.equal(code, 0);
  rmSync(given);
  const { model: tuned, info } = loadCheckpoint(out);
  assert.equal(info.config.model, 'torchscript');
  assert.deepEqual([...tuned.stateDict().keys()], [...tiny.parameters, ...tiny.buffers]);
  const reloaded = ScriptedModel.load(path.join(out, 'model.pt'), [1, 28, 28]);
  const initial = ScriptedModel.load(fixture('tiny_embed.pt'), [1, 28, 28]);
  try {
    const x = Tensor.fromTypedArray(new Float32Array(tiny.input), tiny.shape);
    const embed = (m: { eval(): { forward(t: Tensor): Tensor } }): number[] => noGrad(() => tidy(() => m.eval().forward(x).toArray()));
    const ours = embed(tuned);
    assert.deepEqual(embed(reloaded), ours);
    assert.ok(maxAbsDiff(embed(initial), ours) > 1e-4, 'training changed nothing');
    x.dispose();
  } finally {
    tuned.dispose();
    reloaded.dispose();
    initial.dispose();
  }
});
