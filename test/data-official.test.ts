// `rankshield data stats cub --root DIR` against the official split: a copy in
// the real CUB-200-2011 layout with the official counts (11,788 tiny real JPEGs
// written here) matches; the same copy with one image unlisted and one listed
// image deleted gets those exact differences and exit code 1.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { checkOfficialSplit, OFFICIAL_SPLITS } from '../src/data/official-splits.js';

const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'rankshield.js');
let tmp: string;
let root: string;
/** image_id → [class, relative path]. */
const entries: [number, number, string][] = [];

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'rankshield-official-'));
  root = path.join(tmp, 'CUB_200_2011');
  const jpeg = await sharp(Buffer.alloc(8 * 8 * 3, 120), { raw: { width: 8, height: 8, channels: 3 } })
    .jpeg()
    .toBuffer();
  // Official counts: 5,864 train images over classes 1–100, 5,924 test over 101–200.
  const perClass = (cls: number): number => (cls <= 100 ? (cls <= 64 ? 59 : 58) : cls <= 124 ? 60 : 59);
  let id = 1;
  for (let cls = 1; cls <= 200; cls++) {
    const folder = `${String(cls).padStart(3, '0')}.Bird_${cls}`;
    await mkdir(path.join(root, 'images', folder), { recursive: true });
    for (let k = 0; k < perClass(cls); k++, id++) entries.push([id, cls, `${folder}/Bird_${cls}_${id}.jpg`]);
  }
  for (let i = 0; i < entries.length; i += 500)
    await Promise.all(entries.slice(i, i + 500).map(([, , rel]) => writeFile(path.join(root, 'images', rel), jpeg)));
  await writeLists(entries);
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function writeLists(list: [number, number, string][]): Promise<void> {
  await writeFile(path.join(root, 'images.txt'), list.map(([id, , rel]) => `${id} ${rel}\n`).join(''));
  await writeFile(path.join(root, 'image_class_labels.txt'), list.map(([id, cls]) => `${id} ${cls}\n`).join(''));
  await writeFile(path.join(root, 'train_test_split.txt'), list.map(([id, cls]) => `${id} ${cls <= 100 ? 1 : 0}\n`).join(''));
}

/** One `data stats` process: its exit code, its text and, with --json, its last line parsed. */
function stats(json: boolean): {
  status: number | null;
  stdout: string;
  last: { train: number; test: number; official: { matches: boolean; differences: string[] } } | null;
} {
  const r = spawnSync(process.execPath, [cli, 'data', 'stats', 'cub', '--root', root, '--no-cache', ...(json ? ['--json'] : [])], {
    encoding: 'utf8',
    env: { ...process.env, RANKSHIELD_THREADS: '1' },
  });
  assert.equal(r.stderr, '');
  return { status: r.status, stdout: r.stdout, last: json ? JSON.parse(r.stdout.trim().split('\n').pop()!) : null };
}

test('a copy with the official counts and every file matches the official split', () => {
  assert.equal(entries.length, 11_788);
  const s = stats(false);
  assert.equal(s.status, 0, s.stdout);
  assert.match(s.stdout, /^train +5864 +100 /m);
  assert.match(s.stdout, /^test +5924 +100 /m);
  assert.match(s.stdout, /^matches the official split$/m);
});

test('one image unlisted and one listed file deleted: the exact differences, exit 1', async () => {
  // Drop class 150's first image from the lists; delete class 7's first file from disk.
  const dropped = entries.find(([, cls]) => cls === 150)!;
  const deleted = entries.find(([, cls]) => cls === 7)!;
  await writeLists(entries.filter((e) => e !== dropped));
  await unlink(path.join(root, 'images', deleted[2]));
  const s = stats(true);
  assert.equal(s.status, 1, s.stdout);
  assert.deepEqual([s.last!.train, s.last!.test, s.last!.official.matches], [5_864, 5_923, false]);
  assert.deepEqual(s.last!.official.differences, [
    `train: 1 listed image is not on disk: ${path.join(root, 'images', deleted[2])}`,
    'test: 5,923 images, official 5,924 (1 fewer)',
  ]);
});

test('missing classes and labels outside the official range are named', () => {
  const split = OFFICIAL_SPLITS.cub;
  const labels = (from: number, to: number, skip: number[] = []): number[] =>
    Array.from({ length: to - from + 1 }, (_, i) => from + i).filter((l) => !skip.includes(l));
  const train = labels(0, 99, [5]).concat([200]);
  const r = checkOfficialSplit(split, { train: { labels: train }, test: { labels: labels(100, 199) } });
  assert.equal(r.matches, false);
  // Class counts agree (100 each); the label sets do not.
  assert.deepEqual(r.differences, [
    'train: 100 images, official 5,864 (5,764 fewer)',
    'train: no image of label 5 (official labels 0–99)',
    'train: label 200 outside the official 0–99',
    'test: 100 images, official 5,924 (5,824 fewer)',
  ]);
});
