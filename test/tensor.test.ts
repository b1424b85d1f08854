// The tensor engine: known values, gradients by finite differences, memory
// scopes and clear errors for bad input. Real libtorch, no mocks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  arange,
  call1,
  callOp,
  cat,
  eye,
  full,
  gradOf,
  grad,
  liveTensors,
  manualSeed,
  noGrad,
  enableGrad,
  ones,
  rand,
  randn,
  randperm,
  stack,
  tensor,
  tidy,
  keep,
  where,
  zeros,
  Tensor,
  getNumThreads,
  setNumThreads,
  backward,
  cudaDevices,
  engineInfo,
  parseDevice,
  rngState,
  setRngState,
  synchronize,
} from '../src/tensor/index.js';
import * as F from '../src/nn/functional.js';
import { l2normalize, metricByName } from '../src/metric/metric.js';
import { checkGradient } from './helpers/gradcheck.js';
import { allNear } from './helpers/assert.js';

test('elementwise math and broadcasting give known values', () => {
  tidy(() => {
    const a = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const b = tensor([10, 20, 30]);
    assert.deepEqual(a.add(b).toArray(), [11, 22, 33, 14, 25, 36]);
    assert.deepEqual(a.sub(1).mul(2).toArray(), [0, 2, 4, 6, 8, 10]);
    assert.deepEqual(
      a
        .div(b)
        .mul(10)
        .toArray()
        .map((x) => Math.round(x * 1e4) / 1e4),
      [1, 1, 1, 4, 2.5, 2],
    );
    assert.deepEqual(a.pow(2).toArray(), [1, 4, 9, 16, 25, 36]);
    assert.deepEqual(tensor([-2, 0, 3]).sign().toArray(), [-1, 0, 1]);
    assert.deepEqual(tensor([-2, 0.5, 3]).clamp(0, 1).toArray(), [0, 0.5, 1]);
    assert.deepEqual(tensor([-2, 0.5, 3]).relu().toArray(), [0, 0.5, 3]);
    allNear(tensor([0, 1]).exp().toArray(), [1, Math.E]);
    allNear(tensor([4, 9]).sqrt().toArray(), [2, 3]);
    assert.deepEqual(
      tensor([1, 5])
        .maximum(tensor([3, 2]))
        .toArray(),
      [3, 5],
    );
    assert.deepEqual(tensor([1, 2]).rsub(1).toArray(), [0, -1]);
  });
});

test('reductions with dims, arg-reductions, topk and stable sort', () => {
  tidy(() => {
    const a = tensor([
      [1, 5, 3],
      [4, 2, 6],
    ]);
    assert.deepEqual(a.sum().toArray(), [21]);
    assert.deepEqual(a.sum(0).toArray(), [5, 7, 9]);
    assert.deepEqual(a.sum(1, true).shape, [2, 1]);
    assert.deepEqual(a.mean(1).toArray(), [3, 4]);
    const [mv, mi] = a.maxDim(1);
    assert.deepEqual(mv.toArray(), [5, 6]);
    assert.deepEqual(mi.toArray(), [1, 2]);
    assert.deepEqual(a.minDim(0)[1].toArray(), [0, 1, 0]);
    assert.deepEqual(a.argmax(1).toArray(), [1, 2]);
    assert.deepEqual(a.amax(0).toArray(), [4, 5, 6]);
    const [tv, ti] = a.topk(2, 1);
    assert.deepEqual(tv.toArray(), [5, 3, 6, 4]);
    assert.deepEqual(ti.toArray(), [1, 2, 2, 0]);
    // stable: equal keys keep their order
    assert.deepEqual(tensor([2, 1, 2, 1]).argsort().toArray(), [1, 3, 0, 2]);
    assert.deepEqual(tensor([2, 1, 2, 1]).argsort(-1, true).toArray(), [0, 2, 1, 3]);
    allNear(
      tensor([[3, 4]])
        .norm(2, 1)
        .toArray(),
      [5],
    );
    allNear(tensor([1, 2, 3, 4]).var().toArray(), [5 / 3]);
    allNear(tensor([0, 0]).logsumexp(0).toArray(), [Math.log(2)]);
    assert.deepEqual(tensor([1, 2, 3]).cumsum(0).toArray(), [1, 3, 6]);
  });
});

test('shape ops, indexing, cat/stack/where', () => {
  tidy(() => {
    const a = arange(6).view(2, 3);
    assert.equal(a.dtype, 'int64');
    assert.deepEqual(a.t().contiguous().toArray(), [0, 3, 1, 4, 2, 5]);
    assert.deepEqual(a.permute(1, 0).shape, [3, 2]);
    assert.deepEqual(a.reshape(3, 2).shape, [3, 2]);
    assert.deepEqual(a.unsqueeze(0).shape, [1, 2, 3]);
    assert.deepEqual(a.unsqueeze(0).squeeze(0).shape, [2, 3]);
    assert.deepEqual(a.flatten().shape, [6]);
    assert.deepEqual(a.narrow(1, 1, 2).toArray(), [1, 2, 4, 5]);
    assert.deepEqual(a.slice(1, 0, null, 2).toArray(), [0, 2, 3, 5]);
    assert.deepEqual(a.select(0, 1).toArray(), [3, 4, 5]);
    const idx = tensor([2, 0], [2], 'int64');
    assert.deepEqual(a.indexSelect(1, idx).toArray(), [2, 0, 5, 3]);
    assert.deepEqual(a.gather(1, tensor([[1], [2]], [2, 1], 'int64')).toArray(), [1, 5]);
    assert.deepEqual(a.index([tensor([1, 0], [2], 'int64')]).toArray(), [3, 4, 5, 0, 1, 2]);
    assert.deepEqual(cat([a, a], 0).shape, [4, 3]);
    assert.deepEqual(stack([a, a], 1).shape, [2, 2, 3]);
    const x = tensor([1, 2, 3]);
    assert.deepEqual(where(x.gt(1.5), x, zeros([3])).toArray(), [0, 2, 3]);
    assert.deepEqual(x.maskedFill(x.eq(2), -1).toArray(), [1, -1, 3]);
    assert.deepEqual(x.expand(2, 3).shape, [2, 3]);
    assert.deepEqual(x.repeat(2).toArray(), [1, 2, 3, 1, 2, 3]);
    assert.deepEqual(
      x.chunk(3).map((c) => c.item()),
      [1, 2, 3],
    );
    assert.deepEqual(eye(2).toArray(), [1, 0, 0, 1]);
    assert.deepEqual(full([2], 7).toArray(), [7, 7]);
    assert.deepEqual(x.lt(2).logicalOr(x.gt(2)).toArray(), [1, 0, 1]);
  });
});

test('matmul, softmax, cdist, normalize and nn functionals give known values', () => {
  tidy(() => {
    const a = tensor([
      [1, 2],
      [3, 4],
    ]);
    assert.deepEqual(a.matmul(a).toArray(), [7, 10, 15, 22]);
    allNear(
      tensor([0, Math.log(3)])
        .softmax(0)
        .toArray(),
      [0.25, 0.75],
    );
    allNear(
      tensor([0, Math.log(3)])
        .logSoftmax(0)
        .toArray(),
      [Math.log(0.25), Math.log(0.75)],
    );
    allNear(
      metricByName('E')
        .pairwise(
          tensor([
            [0, 0],
            [3, 4],
          ]),
          tensor([
            [0, 0],
            [6, 8],
          ]),
        )
        .toArray(),
      [0, 10, 5, 5],
    );
    allNear(
      l2normalize(
        tensor([
          [3, 4],
          [0, 0],
        ]),
      ).toArray(),
      [0.6, 0.8, 0, 0],
    );
    // conv with an all-ones 3x3 kernel and padding 1 on an all-ones image: 4 / 6 / 9 neighbours
    const y = F.conv2d(ones([1, 1, 3, 3]), ones([1, 1, 3, 3]), null, 1, 1);
    assert.deepEqual(y.toArray(), [4, 6, 4, 6, 9, 6, 4, 6, 4]);
    const img = arange(16, undefined, 1, { dtype: 'float32' }).view(1, 1, 4, 4);
    assert.deepEqual(F.maxPool2d(img, 2).toArray(), [5, 7, 13, 15]);
    assert.deepEqual(F.avgPool2d(img, 2).toArray(), [2.5, 4.5, 10.5, 12.5]);
    assert.deepEqual(F.adaptiveAvgPool2d(img, 1).toArray(), [7.5]);
    const lin = F.linear(
      tensor([[1, 1]]),
      tensor([
        [1, 2],
        [3, 4],
        [5, 6],
      ]),
      tensor([0, 0, 1]),
    );
    assert.deepEqual(lin.toArray(), [3, 7, 12]);
  });
});

test('autograd: gradients match finite differences (float64)', () => {
  manualSeed(1);
  tidy(() => {
    const d = { dtype: 'float64' as const };
    const w = randn([3, 2, 3, 3], d);
    const b = randn([3], d);
    checkGradient((x) => F.conv2d(x, w, b, 1, 1).square().sum(), randn([2, 2, 5, 5], d));
    const img = randn([1, 2, 6, 6], d);
    checkGradient((x) => F.conv2d(img, x, null, 2, 0).tanh().sum(), randn([3, 2, 3, 3], d));
    const lw = randn([4, 5], d);
    checkGradient((x) => F.linear(x, lw, null).sin().sum(), randn([3, 5], d));
    checkGradient((x) => F.maxPool2d(x, 2).square().sum(), randn([1, 2, 4, 4], d));
    checkGradient((x) => F.avgPool2d(x, 2).square().sum(), randn([1, 2, 4, 4], d));
    checkGradient((x) => F.adaptiveAvgPool2d(x, 1).square().sum(), randn([2, 3, 3, 3], d));
    const bnW = randn([2, 3, 2, 2], d);
    checkGradient((x) => F.batchNorm(x, null, null, null, null, true).mul(bnW).sum(), randn([2, 3, 2, 2], d));
    const nW = randn([4, 6], d);
    checkGradient((x) => l2normalize(x).mul(nW).sum(), randn([4, 6], d));
    const g = randn([3, 6], d);
    checkGradient((x) => metricByName('E').pairwise(x, g).sum(), randn([4, 6], d));
    const sW = randn([2, 5], d);
    checkGradient((x) => x.softmax(1).mul(sW).sum(), randn([2, 5], d));
    checkGradient((x) => x.matmul(x.t()).logsumexp(1).sum(), randn([3, 4], d));
  });
});

test('autograd: grad options, backward accumulation, noGrad', () => {
  tidy(() => {
    const x = tensor([1, 2, 3], [3], 'float64').requiresGrad_();
    const y = x.pow(3).sum();
    // first derivative 3x², second derivative via createGraph: 6x
    const [g1] = grad(y, [x], { createGraph: true });
    assert.deepEqual(g1!.toArray(), [3, 12, 27]);
    const [g2] = grad(g1!.sum(), [x]);
    assert.deepEqual(g2!.toArray(), [6, 12, 18]);
    const z = tensor([5], [1], 'float64').requiresGrad_();
    assert.deepEqual(grad(x.sum(), [x, z], { allowUnused: true })[1], null);
    assert.throws(() => grad(x.sum(), [z]), /not have been used|unused|does not require grad/i);
    backward(x.mul(2).sum());
    backward(x.mul(3).sum());
    assert.deepEqual(x.grad!.toArray(), [5, 5, 5]);
    x.grad = null;
    assert.equal(x.grad, null);
    const n = noGrad(() => x.mul(2));
    assert.equal(n.requiresGrad, false);
    const e = noGrad(() => enableGrad(() => x.mul(2)));
    assert.equal(e.requiresGrad, true);
    assert.equal(x.detach().requiresGrad, false);
  });
});

test('tidy frees everything but the result; keep and dispose work; no leaks', () => {
  const before = liveTensors();
  const kept = tidy(() => {
    const a = ones([10]);
    const b = a.mul(2);
    const k = keep(b.add(1));
    return { b, nested: [b.sub(1)], k };
  });
  assert.equal(liveTensors(), before + 3);
  assert.deepEqual(kept.nested[0]!.toArray()[0], 1);
  kept.b.dispose();
  kept.nested[0]!.dispose();
  kept.k.dispose();
  assert.equal(liveTensors(), before);
  assert.throws(() => kept.b.add(1), /used after dispose/);
  // an exception inside tidy frees the scope too
  assert.throws(
    () =>
      tidy(() => {
        ones([3]);
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.equal(liveTensors(), before);
  for (let i = 0; i < 200; i++)
    tidy(() =>
      rand([64, 64])
        .matmul(rand([64, 64]))
        .sum()
        .item(),
    );
  assert.equal(liveTensors(), before);
});

test('seeding reproduces random tensors; threads are settable', () => {
  manualSeed(123);
  const a = tidy(() => [rand([5]).toArray(), randn([5]).toArray(), randperm(10).toArray()]);
  manualSeed(123);
  const b = tidy(() => [rand([5]).toArray(), randn([5]).toArray(), randperm(10).toArray()]);
  assert.deepEqual(a, b);
  const t = getNumThreads();
  setNumThreads(2);
  assert.equal(getNumThreads(), 2);
  setNumThreads(t);
  assert.throws(() => setNumThreads(0), /threads must be >= 1/);
  assert.throws(() => manualSeed(-1), /non-negative integer/);
});

test('typed-array transfer in and out for every dtype', () => {
  tidy(() => {
    const cases: [ArrayBufferView & { length: number }, string][] = [
      [new Float32Array([1.5, -2]), 'float32'],
      [new Float64Array([1.25, 3]), 'float64'],
      [new Int32Array([7, -8]), 'int32'],
      [new BigInt64Array([9n, -10n]), 'int64'],
      [new Uint8Array([0, 255]), 'uint8'],
      [new Int8Array([-128, 127]), 'int8'],
      [new Int16Array([-300, 300]), 'int16'],
    ];
    for (const [arr, dtype] of cases) {
      const t = Tensor.fromTypedArray(arr as never, [2]);
      assert.equal(t.dtype, dtype);
      assert.deepEqual(Array.from(t.data() as ArrayLike<unknown>), Array.from(arr as unknown as ArrayLike<unknown>));
    }
    const b = tensor([1, 0, 1], [3], 'bool');
    assert.equal(b.dtype, 'bool');
    assert.deepEqual(b.toArray(), [1, 0, 1]);
    assert.deepEqual(tensor([1, 2], [2], 'float16').float().toArray(), [1, 2]);
    assert.deepEqual(tensor(3.5, []).shape, []);
    assert.equal(tensor(3.5, []).item(), 3.5);
    assert.equal(tensor([[1, 2]]).toFloat32Array() instanceof Float32Array, true);
    assert.equal(ones([2]).device, 'cpu');
  });
});

test('bad input gives clear errors and never crashes the process', () => {
  tidy(() => {
    assert.throws(() => ones([2, 3]).add(ones([4])), /size of tensor a \(3\) must match the size of tensor b \(4\)/);
    assert.throws(() => ones([2, 3]).matmul(ones([2, 3])), /cannot be multiplied|shapes|size mismatch/i);
    assert.throws(() => F.conv2d(ones([1, 2, 5, 5]), ones([4, 3, 3, 3]), null), /expected input\[1, 2, 5, 5\] to have 3 channels/);
    assert.throws(() => F.conv2d(ones([1, 1, 5, 5], { dtype: 'int64' }), ones([1, 1, 3, 3]), null), /type|dtype|scalar|not implemented/i);
    assert.throws(() => callOp('aten::does_not_exist', []), /unknown operator aten::does_not_exist/);
    assert.throws(() => call1('aten::add.Tensor', [ones([1])]), /missing argument 'other'/);
    assert.throws(() => call1('aten::add.Tensor', [ones([1]), 'x' as never]), /argument 'other': expected a tensor/);
    assert.throws(() => call1('aten::sum.dim_IntList', [ones([1]), [0.5]]), /expected an integer/);
    assert.throws(() => ones([2]).view(3), /shape '\[3\]' is invalid for input of size 2/);
    assert.throws(() => ones([2]).item(), /2 elements, expected 1/);
    assert.throws(() => Tensor.fromTypedArray(new Float32Array(3), [2, 2]), /12 bytes but shape and dtype need 16/);
    assert.throws(() => tensor([[1, 2], [3]]), /do not fill shape|ragged/);
    assert.throws(() => ones([2]).to('float99'), /unknown|device|expected/i);
    assert.throws(() => ones([2]).size(3), /dimension 3 out of range/);
    assert.throws(() => gradOf(ones([2]).sum(), ones([2])), /does not require grad|not have been used|unused/i);
  });
});

test('a process that exits with live tensors exits cleanly (allocator outlives static teardown)', async () => {
  const { spawnSync } = await import('node:child_process');
  const tensorIndex = new URL('../src/tensor/index.js', import.meta.url).href;
  const script = `import('${tensorIndex}').then((T) => { globalThis.keepAlive = [T.rand([256, 256]), T.ones([3])]; });`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.signal, null, `child died with ${r.signal}`);
  assert.equal(r.status, 0, r.stderr);
});

test('devices: without a visible GPU, CUDA requests are refused with a message and the process goes on', () => {
  const built = engineInfo().cuda.built;
  assert.equal(parseDevice('cpu'), 'cpu');
  assert.throws(() => parseDevice('gpu'), /unknown device 'gpu'/);
  if (cudaDevices().length > 0) return; // a GPU machine: nothing to refuse
  assert.throws(() => parseDevice('cuda'), built ? /built with CUDA .* no CUDA device is visible/ : /libtorch without CUDA/);
  assert.throws(() => parseDevice('cuda:1'), /--device cuda:1/);
  // The generator of a CUDA device and a synchronize are refused by libtorch / the addon, not a crash.
  assert.throws(() => rngState('cuda:0'), Error);
  assert.throws(() => synchronize('cuda:0'), Error);
  synchronize('cpu');
  // The CPU generator's state round-trips whichever way it is named.
  manualSeed(7);
  const s = rngState();
  assert.deepEqual(rngState('cpu'), s);
  const a = tidy(() => rand([3]).toArray());
  setRngState(s, 'cpu');
  assert.deepEqual(
    tidy(() => rand([3]).toArray()),
    a,
  );
});
