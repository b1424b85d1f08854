// What an attack did, kept: the adversarial images and the neighbour lists
// before/after come back from the library, match the swipe's own numbers for
// the same batch and seed, and are written as PNGs plus rankings.json; a
// swipe keeps them for its batch 0 and `swipe --out` makes a page of them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { className, FASHION_CLASS_NAMES, openDataset } from '../src/data/index.js';
import { C2F2 } from '../src/models/c2f2.js';
import { manualSeed } from '../src/tensor/index.js';
import { attackExamples, runSwipe } from '../src/eval/swipe.js';
import { saveAttackImages } from '../src/eval/attack-images.js';
import { metricByName } from '../src/metric/metric.js';
import { SwipeExampleKeeper, writeSwipePage } from '../src/eval/report-html.js';
import { escapeXml } from '../src/eval/report-svg.js';
import { formatScore } from '../src/eval/format.js';
import { ERS_ATTACK_KINDS } from '../src/attack/index.js';
import { swipeCommand } from '../src/cli/swipe.js';
import { UsageError } from '../src/cli/command.js';

test('attackExamples keeps the swipe batch’s adversarial images and rankings; saveAttackImages writes them', async () => {
  manualSeed(0);
  const model = new C2F2();
  const { test: split } = await openDataset('fashion');
  const run = { attack: 'QA+' as const, budget: { epsilon: 0.1, alpha: 0.05, steps: 2 } };
  const swipe = await runSwipe(model, split, metricByName('N'), { profile: { name: 'qa', usedFor: 'test', batchSize: 16, runs: [run] }, maxIter: 1, seed: 3 });
  const ex = await attackExamples(model, split, metricByName('N'), { run, batchSize: 16, seed: 3, topK: 5 });
  try {
    assert.deepEqual(ex.values, swipe.attacks, 'the kept batch is the swipe’s batch 0, same seed');
    const delta = ex.examples.adversarial.sub(ex.clean);
    assert.ok(delta.abs().max().item() <= 0.1 + 1e-6, 'inside the ε-ball');
    delta.dispose();
    assert.equal(ex.examples.topBefore.length, 16);
    assert.equal(ex.examples.topAfter[0]!.length, 5);
    assert.ok(
      ex.examples.topBefore.some((b, i) => b.join() !== ex.examples.topAfter[i]!.join()),
      'the attack moved some ranking',
    );
    for (const [i, list] of ex.examples.topBefore.entries()) assert.ok(!list.includes(ex.indices[i]!), 'an image is not its own neighbour');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rankshield-attack-images-'));
    const { files, images } = await saveAttackImages(dir, {
      attack: 'QA+',
      budget: run.budget,
      clean: ex.clean,
      examples: ex.examples,
      indices: ex.indices,
      labels: split.labels,
      ...(split.classNames === undefined ? {} : { classNames: split.classNames }),
      limit: 2,
    });
    assert.equal(files.length, 7);
    assert.deepEqual(
      images.map((r) => r.index),
      [...ex.indices.slice(0, 2)],
    );
    for (const r of images) for (const f of Object.values(r.files)) assert.ok(files.includes(path.join(dir, f)), `${f} is one of the files written`);
    assert.deepEqual(
      readdirSync(dir)
        .filter((f) => f.startsWith('0-'))
        .map((f) => f.replace(/x\d+(\.\d+)?/, 'xS'))
        .sort(),
      ['0-adversarial.png', '0-perturbation-xS.png', '0-query.png'],
    );
    const meta = await sharp(path.join(dir, '0-query.png')).metadata();
    assert.deepEqual([meta.width, meta.height], [28, 28]);
    type Named = { label: number; className: string };
    const rankings = JSON.parse(readFileSync(path.join(dir, 'rankings.json'), 'utf8')) as { images: (Named & { before: Named[]; after: Named[] })[] };
    assert.equal(rankings.images.length, 2);
    assert.equal(rankings.images[0]!.before.length, 5);
    // Fashion-MNIST's published names, by label, on the query and on every neighbour.
    assert.deepEqual([className(split, 0), className(split, 1), className(split, 9)], ['T-shirt/top', 'Trouser', 'Ankle boot']);
    for (const r of rankings.images)
      for (const n of [r, ...r.before, ...r.after]) assert.equal(n.className, FASHION_CLASS_NAMES[n.label], `label ${n.label} is named`);
  } finally {
    ex.clean.dispose();
    ex.examples.adversarial.dispose();
    model.dispose();
  }
});

test('swipe page: index.html names every attack, holds the chart and table, and links pictures that exist', async () => {
  manualSeed(0);
  const model = new C2F2();
  const { test: split } = await openDataset('fashion');
  const budget = { epsilon: 0.1, alpha: 0.05, steps: 2 };
  const profile = { name: 'tiny', usedFor: 'test', batchSize: 16, runs: ERS_ATTACK_KINDS.map((attack) => ({ attack, budget })) };
  const keeper = new SwipeExampleKeeper(2, 4);
  try {
    const result = await runSwipe(model, split, metricByName('N'), { profile, maxIter: 1, seed: 3, examples: keeper.option });
    assert.deepEqual(
      keeper.kept.map((k) => k.run.attack),
      [...ERS_ATTACK_KINDS],
      'one kept example per attack kind',
    );
    for (const k of keeper.kept)
      for (const [col, v] of Object.entries(k.values)) assert.equal(v, result.attacks[col], `${col}: the kept numbers are the swipe's batch 0`);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rankshield-swipe-page-'));
    const page = await writeSwipePage(dir, result, {
      ds: split,
      keeper,
      source: { model: 'c2f2 <untrained> & "random"', dataset: 'fashion', checkpoint: 'run-1' },
    });
    assert.equal(page, path.join(dir, 'index.html'));
    const html = readFileSync(page, 'utf8');
    for (const kind of ERS_ATTACK_KINDS) assert.ok(html.includes(`data-attack="${escapeXml(kind)}"`), `a picture section for ${kind}`);
    for (const col of Object.keys(result.attacks)) assert.ok(html.includes(`<th scope="row">${escapeXml(col)}</th>`), `a table row for ${col}`);
    assert.match(html, /<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/, 'the chart is inline');
    assert.ok(html.includes(`>${formatScore(result.ERS!)}</div>`), 'the ERS figure');
    assert.ok(html.includes('c2f2 &lt;untrained&gt; &amp; &quot;random&quot;') && !html.includes('<untrained>'), 'text is escaped');
    // Offline: nothing fetched, no script.
    assert.doesNotMatch(html, /<script|<link|(src|href)="(https?:)?\/\/|url\(/i);
    const srcs = [...html.matchAll(/<img src="([^"]+)"/g)].map((m) => m[1]!);
    // Per attack and query: query, perturbation, adversarial and 4 + 4 neighbours.
    assert.equal(srcs.length, ERS_ATTACK_KINDS.length * 2 * (3 + 8));
    for (const src of new Set(srcs)) {
      const file = path.join(dir, ...src.split('/').map(decodeURIComponent));
      assert.ok(existsSync(file), `${src} exists`);
    }
    const perturbation = srcs.find((s) => s.includes('perturbation'))!;
    const meta = await sharp(path.join(dir, ...perturbation.split('/').map(decodeURIComponent))).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height, meta.channels], ['png', 28, 28, 1]);
    assert.match(html, /class="mv (up|down|new)"/, 'some neighbour moved and is marked');
    // Queries and neighbours are shown by their class names, the label beside the name in captions.
    assert.match(html, /<figcaption>query #\d+ · (T-shirt\/top|Trouser|Pullover|Dress|Coat|Sandal|Shirt|Sneaker|Bag|Ankle boot) \(\d\)<\/figcaption>/);
    assert.match(html, /<span class="lab">(T-shirt\/top|Trouser|Pullover|Dress|Coat|Sandal|Shirt|Sneaker|Bag|Ankle boot)<\/span>/);
    assert.match(html, /class="thumb match"/, 'neighbours with the query’s label are marked');
  } finally {
    keeper.dispose();
    model.dispose();
  }
});

test('swipe --examples goes with --out', async () => {
  await assert.rejects(swipeCommand.run(['ckpt', '--examples', '2']), (e: unknown) => e instanceof UsageError && /--examples goes with --out/.test(e.message));
  await assert.rejects(
    swipeCommand.run(['ckpt', '--out', os.tmpdir(), '--examples', '-1']),
    (e: unknown) => e instanceof UsageError && /--examples must be >= 0/.test(e.message),
  );
});
