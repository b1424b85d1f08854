// nn modules and optimizers: PyTorch names, shapes and init; state-dict round
// trips; BatchNorm statistics and optimizer trajectories equal to PyTorch's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { liveTensors, manualSeed, noGrad, rand, tensor, tidy, type Tensor } from '../src/tensor/index.js';
import { BatchNorm2d, Conv2d, Flatten, Linear, ReLU, Sequential } from '../src/nn/index.js';
import { Adam, SGD, type Optimizer } from '../src/optim/index.js';
import { C2F2 } from '../src/models/c2f2.js';
import { allNear, near } from './helpers/assert.js';

test('c2f2 has PyTorch parameter names, shapes and size, and embeds to 512-d', () => {
  manualSeed(0);
  const m = new C2F2();
  const shapes = Object.fromEntries([...m.stateDict()].map(([k, t]) => [k, t.shape]));
  assert.deepEqual(shapes, {
    'conv1.weight': [32, 1, 5, 5],
    'conv1.bias': [32],
    'conv2.weight': [64, 32, 5, 5],
    'conv2.bias': [64],
    'fc1.weight': [1024, 3136],
    'fc1.bias': [1024],
    'fc2.weight': [512, 1024],
    'fc2.bias': [512],
  });
  assert.equal(m.parameterCount(), 3_789_184);
  tidy(() => {
    assert.deepEqual(m.forward(rand([3, 1, 28, 28])).shape, [3, 512]);
    assert.throws(() => m.forward(rand([3, 3, 28, 28])), /c2f2 expects input \[N, 1, 28, 28\], got \[3, 3, 28, 28\]/);
  });
  m.dispose();
});

test('default init is U(±1/sqrt(fan_in)) for Conv2d and Linear', () => {
  manualSeed(1);
  const conv = new Conv2d(8, 16, 3);
  const lin = new Linear(400, 10);
  tidy(() => {
    for (const [w, fanIn] of [
      [conv.weight, 72],
      [conv.bias!, 72],
      [lin.weight, 400],
    ] as [Tensor, number][]) {
      const bound = 1 / Math.sqrt(fanIn);
      assert.ok(w.abs().max().item() <= bound + 1e-7);
      // the std of U(-b, b) is b/sqrt(3)
      const sd = Math.sqrt(w.var().item());
      near(sd, bound / Math.sqrt(3), 0.2 * bound, 'std of the initial weights');
    }
  });
  conv.dispose();
  lin.dispose();
});

test('state dict round trip reproduces outputs; mismatches are named', () => {
  manualSeed(2);
  const a = new C2F2();
  manualSeed(3);
  const b = new C2F2();
  tidy(() => {
    const x = rand([2, 1, 28, 28]);
    assert.notDeepEqual(a.forward(x).toArray(), b.forward(x).toArray());
    b.loadStateDict(a.stateDict());
    assert.deepEqual(a.forward(x).toArray(), b.forward(x).toArray());
    const partial = new Map(a.stateDict());
    partial.delete('fc2.bias');
    assert.throws(() => b.loadStateDict(partial), /missing keys: fc2\.bias/);
    partial.set('fc2.bias', a.stateDict().get('fc2.bias')!);
    partial.set('extra.weight', tensor([1]));
    assert.throws(() => b.loadStateDict(partial), /unexpected keys: extra\.weight/);
    assert.deepEqual(b.loadStateDict(partial, { strict: false }).unexpected, ['extra.weight']);
    partial.delete('extra.weight');
    partial.set('fc2.bias', tensor([1, 2]));
    assert.throws(() => b.loadStateDict(partial), /fc2\.bias: expected \[512\] got \[2\]/);
  });
  a.dispose();
  b.dispose();
});

test('Sequential names children 0, 1, … and BatchNorm2d matches PyTorch statistics', () => {
  const seq = new Sequential(new Conv2d(2, 2, 1), new BatchNorm2d(2), new ReLU(), new Flatten());
  assert.deepEqual([...seq.stateDict().keys()], ['0.weight', '0.bias', '1.weight', '1.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked']);
  seq.dispose();
  const bn = new BatchNorm2d(2);
  tidy(() => {
    const x = tensor(
      Array.from({ length: 16 }, (_, i) => i),
      [2, 2, 2, 2],
    );
    bn.train().forward(x);
    // values printed by PyTorch 1.13 for the same input (BatchNorm2d(2), one training step)
    allNear(bn.runningMean.toArray(), [0.550000011920929, 0.949999988079071], 1e-6);
    allNear(bn.runningVar.toArray(), [2.8714284896850586, 2.8714284896850586], 1e-5);
    assert.equal(bn.numBatchesTracked.item(), 1);
    const frozen = bn.runningMean.toArray();
    bn.frozen = true;
    bn.forward(x);
    assert.deepEqual(bn.runningMean.toArray(), frozen);
    assert.equal(bn.numBatchesTracked.item(), 1);
    const y = bn.eval().forward(x);
    const expected = (x.select(1, 0).toArray()[0]! - frozen[0]!) / Math.sqrt(bn.runningVar.toArray()[0]! + 1e-5);
    allNear([y.toArray()[0]!], [expected], 1e-5);
  });
  bn.dispose();
});

/** Five steps on sum(c·p²) from p = [1, -2, 3] in float64; the expected values were printed by PyTorch 1.13. */
function trajectory(make: (ps: Tensor[]) => Optimizer): number[] {
  return tidy(() => {
    const p = tensor([1, -2, 3], [3], 'float64').requiresGrad_();
    const c = tensor([1, 2, 3], [3], 'float64');
    const opt = make([p]);
    for (let i = 0; i < 5; i++) {
      opt.zeroGrad();
      tidy(() => p.pow(2).mul(c).sum().backward());
      opt.step();
    }
    opt.dispose();
    return p.toArray();
  });
}

test('Adam and SGD follow PyTorch trajectories exactly', () => {
  const before = liveTensors();
  allNear(
    trajectory((ps) => new Adam(ps, { lr: 0.1, betas: [0.9, 0.99], eps: 1e-8, weightDecay: 0.01 })),
    [0.507542232739, -1.502754720863, 2.501648074341],
    1e-10,
  );
  allNear(
    trajectory((ps) => new SGD(ps, { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 })),
    [0.019318495587, 1.07108844157, -2.312282379633],
    1e-10,
  );
  allNear(
    trajectory((ps) => new SGD(ps, { lr: 0.05, momentum: 0.9, nesterov: true })),
    [-0.1045816839, 0.8314351616, -1.0435567191],
    1e-9,
  );
  assert.equal(liveTensors(), before);
  assert.throws(() => tidy(() => new Adam([tensor([1])], { lr: -1 })), /learning rate must be > 0/);
  assert.throws(() => new SGD([], { lr: 1 }), /empty parameter list/);
});

test('optimizer state round trip: a resumed run equals an uninterrupted one', () => {
  const run = (resumeAt: number | null): number[] =>
    tidy(() => {
      const p = tensor([1, -2, 3], [3], 'float64').requiresGrad_();
      let opt = new Adam([p], { lr: 0.1 });
      for (let i = 0; i < 6; i++) {
        if (i === resumeAt) {
          const sd = opt.stateDict();
          const copy = { step: sd.step, tensors: new Map([...sd.tensors].map(([k, t]) => [k, t.clone()])) };
          opt.dispose();
          opt = new Adam([p], { lr: 0.1 });
          opt.loadStateDict(copy);
        }
        opt.zeroGrad();
        tidy(() => p.pow(2).sum().backward());
        opt.step();
      }
      opt.dispose();
      return noGrad(() => p.toArray());
    });
  assert.deepEqual(run(3), run(null));
});
