// Checkpoints that cannot tear, and sidecars that are not trusted blindly:
// a commit failing at each stage of its protocol (as a crash or a full disk
// would) leaves a checkpoint that verifies; altered files and sidecars are
// detected and named; run directories are owned by one training at a time.
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { manualSeed, Tensor } from '../src/tensor/index.js';
import { Adam } from '../src/optim/index.js';
import { defaultConfig } from '../src/run/config.js';
import { COMMIT_STAGES, saveCheckpoint, type CommitStage } from '../src/run/commit.js';
import { createModel, loadCheckpoint } from '../src/run/model-factory.js';
import { keptEpochs } from '../src/run/kept-epochs.js';
import { latestGoodCheckpoint, readCheckpoint, readCheckpointInfo, SIDECAR, type CheckpointState } from '../src/run/checkpoint.js';
import { LOCK_FILE, RunDirectory } from '../src/run/run-dir.js';

const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'rankshield-ckpt-'));
const config = { ...defaultConfig('fashion'), batchPairs: 32, maxBatches: 4 };

/** A state at a given global step (epoch boundaries only: enough for the commit protocol). */
const stateAt = (epoch: number): CheckpointState => ({
  config,
  epoch,
  position: { epoch: epoch + 1, step: 0 },
  pendingEval: false,
  metrics: { 'R@1': 0.5 + epoch / 100 },
  defenseState: {},
  rngState: null,
  epochProgress: null,
  logBytes: 0,
});

/** A model + optimizer pair whose weights differ per `seed`, so commits are told apart. */
function modelAndOpt(seed: number): { model: ReturnType<typeof createModel>; opt: Adam; dispose: () => void } {
  manualSeed(seed);
  const model = createModel(config);
  const opt = new Adam(model.parameters(), { lr: 1e-3 });
  return { model, opt, dispose: () => (opt.dispose(), model.dispose()) };
}

const markEpoch = (dir: string): number => latestGoodCheckpoint(dir).info.epoch;

test('a commit that fails at any stage leaves a complete checkpoint: the old one before the sidecar, the new one after', () => {
  for (const failAt of COMMIT_STAGES) {
    const dir = tmp();
    const a = modelAndOpt(1);
    saveCheckpoint(dir, a.model, a.opt, stateAt(0));
    a.dispose();
    const b = modelAndOpt(2);
    const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    // The commit also keeps its epoch (--keep-every), so that every stage is passed.
    assert.throws(
      () =>
        saveCheckpoint(
          dir,
          b.model,
          b.opt,
          { ...stateAt(1), keep: { every: 2, epochs: [] } },
          {
            keepEpoch: 2,
            onStage: (s: CommitStage) => {
              if (s === failAt) throw enospc;
            },
          },
        ),
      /cannot commit the checkpoint .*ENOSPC.*previous checkpoint is intact/,
    );
    b.dispose();
    const committed = COMMIT_STAGES.indexOf(failAt) >= COMMIT_STAGES.indexOf('sidecar');
    assert.equal(markEpoch(dir), committed ? 1 : 0, `failure at ${failAt}`);
    assert.deepEqual(
      readCheckpointInfo(dir).keep?.epochs.map((e) => e.path),
      committed ? ['epochs/0002'] : undefined,
      `failure at ${failAt}: the kept epoch is listed once committed`,
    );
    if (committed)
      assert.deepEqual(
        keptEpochs(dir).map((e) => e.problem),
        [null],
        `failure at ${failAt}: the kept epoch verifies`,
      );
    assert.equal(latestGoodCheckpoint(dir).problem, undefined, `failure at ${failAt}: checkpoint.json must verify`);
    for (const sub of ['checkpoints', 'epochs']) {
      if (existsSync(path.join(dir, sub)))
        assert.deepEqual(
          readdirSync(path.join(dir, sub)).filter((n) => n.startsWith('.tmp')),
          [],
          `failure at ${failAt} left a temporary in ${sub}/`,
        );
    }
    // and training continues from it: the next commit goes through
    const c = modelAndOpt(3);
    saveCheckpoint(dir, c.model, c.opt, stateAt(2));
    c.dispose();
    assert.equal(markEpoch(dir), 2);
  }
});

test('a flipped or cut byte in the weights is named; resume falls back to the previous commit', () => {
  const dir = tmp();
  for (const [seed, epoch] of [
    [1, 0],
    [2, 1],
  ] as const) {
    const m = modelAndOpt(seed);
    saveCheckpoint(dir, m.model, m.opt, stateAt(epoch));
    m.dispose();
  }
  const info = JSON.parse(readFileSync(path.join(dir, SIDECAR), 'utf8')) as { files: { model: { path: string } } };
  const weights = path.join(dir, info.files.model.path);
  const bytes = readFileSync(weights);
  bytes[bytes.length - 5] ^= 0x10;
  writeFileSync(weights, bytes);
  assert.throws(() => readCheckpoint(dir), /model\.safetensors: SHA-256 differs/);
  assert.throws(() => loadCheckpoint(dir), /SHA-256 differs/);
  const back = latestGoodCheckpoint(dir);
  assert.equal(back.info.epoch, 0);
  assert.match(back.problem ?? '', /SHA-256 differs/);
  writeFileSync(weights, bytes.subarray(0, 1000));
  assert.throws(() => readCheckpoint(dir), /1000 bytes, the checkpoint recorded/);
  // a crashed commit's temporary is not a checkpoint
  mkdirSync(path.join(dir, 'checkpoints', '.tmp-000009-4242'));
  assert.equal(latestGoodCheckpoint(dir).info.epoch, 0);
});

test('checkpoint.json is checked field by field: types, ranges, names, paths and its digest', () => {
  const dir = tmp();
  const m = modelAndOpt(1);
  saveCheckpoint(dir, m.model, m.opt, stateAt(0));
  m.dispose();
  const file = path.join(dir, SIDECAR);
  const good = readFileSync(file, 'utf8');
  /** Applies an edit; `forge` also recomputes the digest, as someone crafting a file would. */
  const edit = (f: (j: Record<string, unknown> & { config: Record<string, unknown>; files: { model: { path: string } } }) => void, forge: boolean): void => {
    const j = JSON.parse(good);
    f(j);
    if (forge) {
      const { digest: _d, ...rest } = j;
      j.digest = createHash('sha256').update(JSON.stringify(rest)).digest('hex');
    }
    writeFileSync(file, JSON.stringify(j));
  };
  const cases: [string, (j: Parameters<Parameters<typeof edit>[0]>[0]) => void, RegExp][] = [
    ['epoch as text', (j) => void (j.epoch = 'abc'), /epoch: Invalid input: expected number/],
    ['unknown metric', (j) => void (j.config.metric = 'Z'), /config\.metric/],
    ['unknown defense field', (j) => void ((j.config.defense as Record<string, unknown>).steps = 3), /config\.defense/],
    ['negative step', (j) => void (j.position = { epoch: 0, step: -1 }), /position\.step/],
    ['path outside the run', (j) => void (j.files.model.path = '../../etc/passwd'), /outside the checkpoint directory/],
    ['an extra field', (j) => void (j.extra = 1), /Unrecognized key/],
    ['an edited value', (j) => void (j.savedAt = '2020-01-01T00:00:00Z'), /digest mismatch/],
  ];
  for (const [what, f, re] of cases) {
    edit(f, what !== 'an edited value');
    assert.throws(() => readCheckpoint(dir), re, what);
  }
  writeFileSync(file, good.slice(0, 200));
  assert.throws(() => readCheckpoint(dir), /not valid JSON.*torn/);
  writeFileSync(file, good);
  assert.equal(readCheckpoint(dir).info.epoch, 0);
});

test('a run directory has one owner: existing runs are not clobbered, stale locks are taken over, the log survives a torn line', () => {
  const dir = tmp();
  const first = RunDirectory.open(dir, 'new');
  assert.throws(() => RunDirectory.open(dir, 'resume'), new RegExp(`in use by another training \\(pid ${process.pid}`));
  first.log({ event: 'step', step: 0 });
  first.close();
  assert.ok(!existsSync(path.join(dir, LOCK_FILE)), 'close releases the lock');
  assert.throws(() => RunDirectory.open(dir, 'new'), /already holds a run; pass --resume .* or --overwrite/);
  assert.throws(() => RunDirectory.open(dir, 'resume'), /holds no checkpoint \(the run stopped before its first one\)/);
  // A lock left by a process that no longer exists (pid beyond pid_max) is taken over.
  writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: 2 ** 22 + 1, host: os.hostname(), startedAt: 'then' }));
  appendFileSync(path.join(dir, 'log.jsonl'), '{"event":"step","st');
  const again = RunDirectory.open(dir, 'overwrite');
  assert.ok(!existsSync(again.logFile), '--overwrite removes the old log');
  again.log({ event: 'step', step: 0 });
  appendFileSync(again.logFile, '{"event":"step","st');
  again.close();
  const third = RunDirectory.open(dir, 'overwrite');
  third.close();
  const reopened = mkdtempSync(path.join(os.tmpdir(), 'rankshield-ckpt-'));
  writeFileSync(path.join(reopened, 'log.jsonl'), '{"a":1}\n{"b":2}\n{"c":');
  const m = modelAndOpt(1);
  saveCheckpoint(reopened, m.model, m.opt, stateAt(0));
  m.dispose();
  const r = RunDirectory.open(reopened, 'resume');
  r.close();
  assert.equal(readFileSync(path.join(reopened, 'log.jsonl'), 'utf8'), '{"a":1}\n{"b":2}\n', 'the torn last line is cut');
});

test("--auto-resume ('auto'): starts over where no checkpoint was committed, resumes where one was", () => {
  const dir = tmp();
  const fresh = RunDirectory.open(dir, 'auto');
  assert.equal(fresh.resuming, false, 'an empty directory starts a run');
  fresh.log({ event: 'step', step: 0 }); // a run killed before its first checkpoint
  fresh.close();
  const again = RunDirectory.open(dir, 'auto');
  assert.equal(again.resuming, false);
  assert.ok(!existsSync(again.logFile), 'the work before the first checkpoint is redone: its log lines go');
  const m = modelAndOpt(1);
  saveCheckpoint(dir, m.model, m.opt, stateAt(0));
  m.dispose();
  again.close();
  const resumed = RunDirectory.open(dir, 'auto');
  assert.equal(resumed.resuming, true, 'a committed checkpoint is resumed');
  assert.ok(existsSync(path.join(dir, 'checkpoint.json')), 'and kept');
  resumed.close();
  assert.throws(() => RunDirectory.open(dir, 'new'), /already holds a run/);
});

test('--auto-resume is refused beside --resume or --overwrite, before any work', async () => {
  const { trainCommand } = await import('../src/cli/train.js');
  const { UsageError } = await import('../src/cli/command.js');
  await assert.rejects(
    trainCommand.run(['--dataset', 'fashion', '--auto-resume', '--resume', '--out', tmp()]),
    (e: Error) => e instanceof UsageError && /give one of --resume and --auto-resume/.test(e.message),
  );
  await assert.rejects(
    trainCommand.run(['--dataset', 'fashion', '--auto-resume', '--overwrite', '--out', tmp()]),
    (e: Error) => e instanceof UsageError && /--auto-resume and --overwrite exclude each other/.test(e.message),
  );
});

test('a same-size dtype lie (float32 bytes labelled int32) does not load into a model', () => {
  const { model, dispose } = modelAndOpt(1);
  const sd = new Map(model.stateDict());
  const [name, w] = [...sd].find(([, t]) => t.dtype === 'float32')!;
  const lie = Tensor.fromTypedArray(new Int32Array(w.shape.reduce((a, b) => a * b, 1)), w.shape);
  sd.set(name, lie);
  assert.throws(() => model.loadStateDict(sd), new RegExp(`${name.replace(/\./g, '\\.')}: expected float32 got int32`));
  lie.dispose();
  dispose();
});

test('a CUDA run records its device generator state; a CPU run does not; a bad one is refused by name', () => {
  const dir = tmp();
  const a = modelAndOpt(1);
  saveCheckpoint(dir, a.model, a.opt, stateAt(0));
  assert.equal('deviceRngState' in readCheckpoint(dir).info, false);
  const state = Buffer.from([1, 2, 3, 4]).toString('base64');
  saveCheckpoint(dir, a.model, a.opt, { ...stateAt(1), deviceRngState: { device: 'cuda:0', state } });
  assert.deepEqual(readCheckpoint(dir).info.deviceRngState, { device: 'cuda:0', state });
  a.dispose();
  // A sidecar naming another kind of device is refused, like any malformed field.
  const file = path.join(dir, SIDECAR);
  const text = readFileSync(file, 'utf8');
  writeFileSync(file, text.replace('"device": "cuda:0"', '"device": "tpu:0"'));
  assert.throws(() => readCheckpoint(dir), /deviceRngState/);
});
