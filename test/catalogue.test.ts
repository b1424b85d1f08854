// The catalogues drive the CLI: every command accepts the same dataset names,
// every option a usage text shows is accepted (and only those), configs are
// resolved and rerun from a file, and the photo datasets train, evaluate and
// attack from a folder the user names (--root), each layout in a tiny copy;
// robustness over training (train --trail, swipe RUN --epochs) end to end.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { commandUsages } from '../src/cli/main.js';
import { trainCommand } from '../src/cli/train.js';
import { evalCommand } from '../src/cli/eval.js';
import { swipeCommand } from '../src/cli/swipe.js';
import { fashionSlice } from './helpers/fashion-slice.js';
import { UsageError } from '../src/cli/command.js';
import { DATASETS, parseDatasetName } from '../src/data/registry.js';
import { ATTACKS, ATTACK_KINDS, ERS_ATTACK_KINDS, type AttackEntry } from '../src/attack/registry.js';
import { DEFENSES, DEFENSE_KINDS, resolveDefense } from '../src/defense/registry.js';
import { MINERS } from '../src/metric/miners.js';
import { defaultConfig, parseShorthand, resolveConfig } from '../src/run/config.js';
import { attackColumn } from '../src/eval/columns.js';
import { manualSeed } from '../src/tensor/index.js';
import { ResNet } from '../src/models/resnet.js';
import { saveSafetensors } from '../src/io/safetensors.js';

const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'rankshield.js');

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'rankshield-catalogue-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, RANKSHIELD_THREADS: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The message a command's run rejects with (in process: no libtorch work happens before the failure). */
async function failure(p: Promise<number>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return `${e instanceof UsageError ? 'usage: ' : ''}${(e as Error).message}`;
  }
  return 'no error';
}

test('every dataset name and alias is accepted alike by the library, train and eval', async () => {
  for (const d of DATASETS) {
    for (const name of [d.name, ...d.aliases, d.name.toUpperCase()].map((n) => (d.takesPath ? `${n}:${path.join(tmp, 'none')}` : n))) {
      assert.equal(parseDatasetName(name).entry, d, name);
      assert.equal(defaultConfig(name).dataset.split(':')[0], d.name, `defaultConfig(${name})`);
      // Both commands get past the name and stop at the missing folder: the same list decides everywhere.
      const root = d.takesPath ? [] : ['--root', path.join(tmp, 'missing')];
      const trained = await failure(trainCommand.run(['--dataset', name, ...root, '--out', path.join(tmp, 'never'), '--epochs', '1', '--quiet']));
      assert.doesNotMatch(trained, /unknown dataset/, `train --dataset ${name}: ${trained}`);
      const evaluated = await failure(evalCommand.run(['--model-file', path.join(tmp, 'none.pt'), '--dataset', name, ...root, '--quiet']));
      assert.doesNotMatch(evaluated, /unknown dataset/, `eval --dataset ${name}: ${evaluated}`);
    }
  }
  assert.match(
    await failure(trainCommand.run(['--dataset', 'imagenet'])),
    /^usage: unknown dataset 'imagenet' \(known: mnist, fashion \(fashion-mnist\), cub \(cub200/,
  );
});

test('each usage text lists exactly the options its command accepts', async () => {
  const usages = await commandUsages();
  let checked = 0;
  for (const { name, usage, options } of usages) {
    if (options === undefined) continue;
    checked++;
    const shown = new Set([...usage.matchAll(/^ {2}--([a-z0-9-]+)/gm)].map((m) => m[1]!));
    assert.deepEqual([...shown].sort(), Object.keys(options).sort(), `rankshield ${name} --help`);
  }
  assert.ok(checked >= 6, `only ${checked} commands declare their options`);
  // An unknown option, a value where none belongs, a missing value and a repeated option are usage errors.
  assert.match(await failure(trainCommand.run(['--epoch', '2'])), /^usage: unknown option '--epoch'/);
  assert.match(await failure(trainCommand.run(['--resume=yes'])), /^usage: --resume takes no value/);
  assert.match(await failure(trainCommand.run(['--epochs'])), /^usage: --epochs needs a value/);
  assert.match(await failure(trainCommand.run(['--seed', '1', '--seed', '2'])), /^usage: --seed is given twice/);
  assert.match(await failure(trainCommand.run(['--metric', 'Q'])), /^usage: --metric must be one of N, E, C, got 'Q'/);
  // `--` ends the options: what follows is positional.
  assert.match(await failure(trainCommand.run(['--', '--epochs'])), /expected dataset:model:loss|dataset:model:loss/);
});

test('defense flags come from the catalogue and belong to their defense', async () => {
  assert.match(await failure(trainCommand.run(['--defense', 'est', '--lambda', '3'])), /^usage: --lambda belongs to --defense catride, not est/);
  assert.match(await failure(trainCommand.run(['--defense', 'hm', '--source', 'random'])), /destination/);
  assert.match(await failure(trainCommand.run(['--defense', 'hm', '--source', 'random', '--destination', '5'])), /destination/);
  // HM is defined for metric N only, CA-TRIDE for N and E: refused before any data is read.
  assert.match(
    await failure(trainCommand.run(['--defense', 'hm', '--source', 'random', '--destination', 'lga', '--metric', 'E'])),
    /defined for metric N only, not E/,
  );
  assert.match(await failure(trainCommand.run(['--defense', 'catride', '--metric', 'C'])), /defined for metric N or E only, not C/);
  // No published λ for Fashion-MNIST: the CLI asks for one rather than guess.
  assert.match(await failure(trainCommand.run(['--defense', 'catride'])), /CA-TRIDE on fashion needs λ.*--lambda L, or --lambda-from RUN/);
  for (const k of DEFENSE_KINDS) assert.equal(DEFENSES[k].kind, k);
});

test("configs resolve with the papers' per-dataset values", () => {
  const resolved = (s: string) => resolveConfig(parseShorthand(s)).defense;
  assert.deepEqual(resolved('cub:rres18p:pgtripletN'), {
    kind: 'catride',
    lambda: 10,
    weighting: 'softmax',
    mode: 'alternate',
    epsilon: 8 / 255,
    alpha: 1 / 255,
    steps: 16,
  });
  assert.equal((resolved('cars:rres18p:pgtripletN') as { lambda: number }).lambda, 9.5);
  assert.equal((resolved('sop:rres18p:pgtripletN') as { lambda: number }).lambda, 2);
  // ICS: 0.5 in the paper, 0.05 on SOP.
  assert.equal((resolved('cub:rres18ghmetsmi:ptripletN') as { ics: number }).ics, 0.5);
  assert.equal((resolved('sop:rres18ghmetsmi:ptripletN') as { ics: number }).ics, 0.05);
  assert.deepEqual(resolved('fashion:rc2f2d:ptripletN'), { kind: 'est', epsilon: 77 / 255, alpha: 3 / 255, steps: 32 });
  assert.equal(resolveConfig(parseShorthand('cub200:rres18:ptripletN')).dataset, 'cub');
  assert.throws(
    () => resolveDefense({ kind: 'hm', source: 'random', destination: 'lga' }, { imageSide: 28, paper: {}, metric: 'C', dataset: 'fashion' }),
    /metric N only/,
  );
});

test('attacks: one catalogue gives the kinds, the ERS runs and the report columns', () => {
  assert.deepEqual(
    ATTACK_KINDS,
    ATTACKS.map((a) => a.kind),
  );
  assert.deepEqual(ERS_ATTACK_KINDS, ['CA+', 'CA-', 'QA+', 'QA-', 'TMA', 'ES', 'LTM', 'GTM', 'GTT']);
  for (const a of ATTACKS as readonly AttackEntry[])
    for (const col of Object.keys(a.columns)) assert.equal(attackColumn(`${col} ε=0.1`).unit, a.columns[col]!.unit);
  // Miner codes of RobRank's loss names come from the miner catalogue.
  for (const m of MINERS) assert.equal(parseShorthand(`fashion:rc2f2:p${m.lossCode}tripletN`).miner, m.name);
});

const sha = async (f: string): Promise<string> =>
  createHash('sha256')
    .update(await readFile(f))
    .digest('hex');

test('train --config reruns a run from its checkpoint.json (same weights)', async () => {
  const first = path.join(tmp, 'first');
  const quick = ['--dataset', 'fashion', '--epochs', '1', '--max-batches', '3', '--batch', '16', '--eval-every', '9', '--quiet'];
  const a = await run(['train', ...quick, '--out', first]);
  assert.equal(a.code, 0, a.stderr);
  const info = JSON.parse(await readFile(path.join(first, 'checkpoint.json'), 'utf8')) as { config: Record<string, unknown> };
  // The whole experiment is recorded, the defense's resolved settings included.
  assert.equal(info.config.dataset, 'fashion');
  assert.deepEqual(info.config.defense, { kind: 'none' });
  const again = path.join(tmp, 'again');
  const b = await run(['train', '--config', path.join(first, 'checkpoint.json'), '--out', again, '--quiet']);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(await sha(path.join(again, 'model.safetensors')), await sha(path.join(first, 'model.safetensors')));
  await writeFile(path.join(tmp, 'bad.json'), JSON.stringify({ ...info.config, epochs: 'two' }));
  const c = await run(['train', '--config', path.join(tmp, 'bad.json'), '--out', path.join(tmp, 'bad')]);
  assert.equal(c.code, 2);
  assert.match(c.stderr, /--config .*bad\.json\.epochs: /);
});

test('robustness over training through the CLI: train --trail keeps every epoch; swipe RUN --epochs swipes them once, with clear errors', async () => {
  const root = await fashionSlice(path.join(tmp, 'trail-fashion'), { train: 1000, test: 128 });
  const out = path.join(tmp, 'trail-run');
  const t = await run([
    'train',
    'fashion:rc2f2:ptripletN',
    '--root',
    root,
    '--epochs',
    '2',
    '--batch',
    '32',
    '--max-batches',
    '2',
    '--trail',
    '--out',
    out,
    '--quiet',
    '--json',
  ]);
  assert.equal(t.code, 0, t.stderr);
  const info = JSON.parse(await readFile(path.join(out, 'checkpoint.json'), 'utf8')) as { keep: { every: number; epochs: { epoch: number; path: string }[] } };
  assert.deepEqual([info.keep.every, info.keep.epochs.map((e) => e.path)], [1, ['epochs/0001', 'epochs/0002']]);
  assert.match(
    await failure(trainCommand.run(['--trail', '--keep-every', '2'])),
    /^usage: --trail keeps every epoch \(--keep-every 1\); it contradicts --keep-every 2/,
  );
  // Bad --epochs values are usage errors (exit 2) that name the value, before any swipe.
  for (const [epochs, message] of [
    ['3', /the run has no epoch 3 \(it trained 2 epoch\(s\); kept: 1, 2\)/],
    ['two', /'two' is not an epoch number/],
    ['1,1', /epoch 1 is listed twice/],
  ] as const) {
    const r = await run(['swipe', out, '--epochs', epochs]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
  }
  assert.match(await failure(swipeCommand.run([out, '--epochs', 'all', '--out', tmp])), /^usage: --epochs does not go with --out/);
  const first = await run(['swipe', out, '--epochs', '2', '--max-iter', '1']);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /\| epoch \| R@1 \(%\) \| mAP \(%\) \| ERS \| ARS \| CA\+ \(%\) \|/);
  assert.match(first.stderr, /wrote .*swipe-epochs\/rob28\/trail\.md, .*trail\.svg/);
  const a = JSON.parse(first.stdout.trim().split('\n').at(-1)!) as { swiped: number[]; reused: number[]; rows: { epoch: number; ERS: number }[] };
  assert.deepEqual([a.swiped, a.reused, a.rows.map((r) => r.epoch)], [[2], [], [2]]);
  const again = await run(['swipe', out, '--epochs', '2', '--max-iter', '1', '--json']);
  assert.equal(again.code, 0, again.stderr);
  const b = JSON.parse(again.stdout.trim().split('\n').at(-1)!) as { swiped: number[]; reused: number[]; rows: { epoch: number; ERS: number }[] };
  assert.deepEqual([b.swiped, b.reused, b.rows[0]!.ERS], [[], [2], a.rows[0]!.ERS], 'the finished epoch is not redone');
  assert.match(
    await readFile(path.join(out, 'report.md'), 'utf8'),
    /## Robustness over training — profile rob28[\s\S]*!\[robustness over training, rob28\]\(swipe-epochs\/rob28\/trail\.svg\)/,
  );
});

/** A small JPEG whose colour encodes its class (so the tiny datasets are learnable at all). */
async function jpeg(file: string, cls: number, k: number): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const [w, h] = [48, 40];
  const px = Buffer.alloc(w * h * 3);
  for (let p = 0; p < w * h; p++) {
    px[3 * p] = (cls * 67) % 256;
    px[3 * p + 1] = (cls * 29 + k * 5 + (p % w)) % 256;
    px[3 * p + 2] = (cls * 131) % 256;
  }
  await sharp(px, { raw: { width: w, height: h, channels: 3 } })
    .jpeg()
    .toFile(file);
}

/** Tiny copies of the three photo layouts: 2 train and 2 test classes, 2 images each. */
const LAYOUTS: Record<string, (root: string) => Promise<void>> = {
  cub: async (root) => {
    const classes = [1, 2, 101, 102]; // ≤ 100 train, the rest test
    const entries = classes.flatMap((c, i) => [0, 1].map((k) => ({ id: 2 * i + k + 1, c, rel: `${String(c).padStart(3, '0')}.Bird_${c}/b${c}_${k}.jpg`, k })));
    await mkdir(root, { recursive: true });
    await writeFile(path.join(root, 'images.txt'), `${entries.map((e) => `${e.id} ${e.rel}`).join('\n')}\n`);
    await writeFile(path.join(root, 'image_class_labels.txt'), `${entries.map((e) => `${e.id} ${e.c}`).join('\n')}\n`);
    await writeFile(path.join(root, 'train_test_split.txt'), `${entries.map((e) => `${e.id} 1`).join('\n')}\n`);
    for (const e of entries) await jpeg(path.join(root, 'images', e.rel), e.c, e.k);
  },
  cars: async (root) => {
    const rows = [1, 2, 99, 100].flatMap((c) => [0, 1].map((k) => ({ p: `car_ims/${String(c * 10 + k).padStart(6, '0')}.jpg`, c, k })));
    await mkdir(root, { recursive: true });
    await writeFile(path.join(root, 'cars_annos.csv'), `${['path,class', ...rows.map((r) => `${r.p},${r.c}`)].join('\n')}\n`);
    for (const r of rows) await jpeg(path.join(root, r.p), r.c, r.k);
  },
  sop: async (root) => {
    const header = 'image_id class_id super_class_id path';
    const split = (classes: number[], first: number): { line: string; p: string; c: number; k: number }[] =>
      classes.flatMap((c, i) =>
        [0, 1].map((k) => ({ line: `${first + 2 * i + k} ${c} 1 bicycle_final/${c}_${k}.JPG`, p: `bicycle_final/${c}_${k}.JPG`, c, k })),
      );
    const train = split([1, 2], 1);
    const testSplit = split([3, 4], 5);
    await mkdir(root, { recursive: true });
    await writeFile(path.join(root, 'Ebay_train.txt'), `${[header, ...train.map((r) => r.line)].join('\n')}\n`);
    await writeFile(path.join(root, 'Ebay_test.txt'), `${[header, ...testSplit.map((r) => r.line)].join('\n')}\n`);
    for (const r of [...train, ...testSplit]) await jpeg(path.join(root, r.p), r.c, r.k);
  },
};

describe('the photo datasets from --root: train, eval and attack end to end (ResNet-18, tiny copies)', () => {
  for (const [name, write] of Object.entries(LAYOUTS)) {
    test(name, async () => {
      const root = path.join(tmp, `${name}-data`);
      await write(root);
      const out = path.join(tmp, `${name}-run`);
      // CUB also starts from "ImageNet" weights (a torchvision-named state dict), read once: the run is self-contained.
      const pretrained = path.join(tmp, 'resnet18-imagenet.safetensors');
      if (name === 'cub') {
        manualSeed(3);
        const source = new ResNet(18);
        saveSafetensors(pretrained, source.stateDict());
        source.dispose();
      }
      const trainArgs = [
        'train',
        '--dataset',
        name,
        '--root',
        root,
        '--batch',
        '2',
        '--max-batches',
        '1',
        '--eval-every',
        '9',
        '--out',
        out,
        '--json',
        ...(name === 'cub' ? ['--pretrained', pretrained] : []),
      ];
      const t = await run([...trainArgs, '--epochs', '1']);
      assert.equal(t.code, 0, t.stderr);
      if (name === 'cub') {
        await rm(pretrained);
        const resumed = await run([...trainArgs, '--epochs', '2', '--resume']);
        assert.equal(resumed.code, 0, `resume without the --pretrained file: ${resumed.stderr}`);
      }
      const config = (JSON.parse(await readFile(path.join(out, 'checkpoint.json'), 'utf8')) as { config: { root: string; model: string } }).config;
      assert.equal(config.root, root);
      assert.equal(config.model, 'resnet18');
      const e = await run(['eval', out, '--json']);
      assert.equal(e.code, 0, e.stderr);
      assert.ok('R@1' in JSON.parse(e.stdout.trim().split('\n').at(-1)!));
      // The data moved: --root says where it is now.
      const a = await run(['attack', out, '--root', root, '--attack', 'QA+', '--steps', '1', '--json']);
      assert.equal(a.code, 0, a.stderr);
      const r = JSON.parse(a.stdout.trim().split('\n').at(-1)!) as { attack: string; queries: number; budget: { epsilon: number } };
      assert.equal(r.attack, 'QA+');
      assert.equal(r.queries, 4);
      assert.equal(r.budget.epsilon, 8 / 255, 'the 224×224 budget');
    });
  }
});
