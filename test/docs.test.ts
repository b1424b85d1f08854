// The documentation ships and stays true: docs/cli.md is what the commands'
// --help texts say, every example of docs/api.md type-checks against the
// package's declarations (strict), README / docs / --help / source comments only
// point at files and sections that exist (none outside the package), and the
// fingerprints docs/datasets.md quotes are the ones the datasets give.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { commandUsages, help } from '../src/cli/main.js';
import { datasetStats, openDataset } from '../src/data/index.js';
import { CONSUMER_TSCONFIG, ROOT, tsBlocks, tsc } from './helpers/consumer.js';

const DOCS = path.join(ROOT, 'docs');
const read = (p: string): string => readFileSync(p, 'utf8');
const docFiles = (): string[] => readdirSync(DOCS).filter((f) => f.endsWith('.md')).map((f) => path.join(DOCS, f));

test('docs/cli.md is generated from the commands\' --help texts and up to date', () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'cli-docs.js'), '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
});

test('every example of docs/api.md type-checks in a strict consumer project importing \'rankshield\'', () => {
  const blocks = tsBlocks(read(path.join(DOCS, 'api.md')));
  assert.ok(blocks.length >= 8, `expected the guide's examples, found ${blocks.length}`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rankshield-api-docs-'));
  // 'rankshield' resolves to this checkout through its package.json "exports", as an installed package would.
  mkdirSync(path.join(dir, 'node_modules'));
  symlinkSync(ROOT, path.join(dir, 'node_modules', 'rankshield'));
  symlinkSync(path.join(ROOT, 'node_modules', '@types'), path.join(dir, 'node_modules', '@types'));
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
  writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ ...CONSUMER_TSCONFIG, compilerOptions: { ...CONSUMER_TSCONFIG.compilerOptions, noEmit: true } }));
  blocks.forEach((b, i) => writeFileSync(path.join(dir, `example${i + 1}.ts`), b));
  const r = tsc(path.join(dir, 'tsconfig.json'));
  assert.equal(r.status, 0, `docs/api.md examples do not compile:\n${r.output}`);
});

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchors(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/^#+ (.+)$/gm)].map((m) => m[1]!.toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-')));
}

/** Reports a run writes (report.md, swipe.md, summary.md, trail.md, losses.md): outputs named in the docs, not documentation files. */
const RUN_OUTPUT = /(^|\/)(report|swipe|summary|trail|losses)\.md$/;

test('README, docs/, --help texts and source comments point only at files and sections that exist in the package', async () => {
  const texts: [string, string][] = [
    [path.join(ROOT, 'README.md'), read(path.join(ROOT, 'README.md'))],
    ...docFiles().map((f): [string, string] => [f, read(f)]),
    [path.join(ROOT, '--help'), help()],
    ...(await commandUsages()).map(({ name, usage }): [string, string] => [path.join(ROOT, `${name} --help`), usage]),
  ];
  const sources = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
  for (const f of sources(path.join(ROOT, 'src'))) texts.push([f, read(f)]);
  const problems: string[] = [];
  for (const [file, text] of texts) {
    const where = path.relative(ROOT, file);
    if (/\.\.\/shared|\bspec\/\w+\.md|anchors\.md|attacks_and_metrics/.test(text)) problems.push(`${where}: names a file outside the repository`);
    // Links inside docs/ are relative to their file; README, --help texts, comments and "docs/…" to the package root.
    const base = (ref: string): string => (file.startsWith(DOCS) && !ref.startsWith('docs/') ? DOCS : ROOT);
    for (const m of text.matchAll(/((?:\.\.\/|\w[\w.-]*\/)*[\w-]+\.md)(#[\w-]+)?(?: §(\d+(?:\.\d+)?))?/g)) {
      const [ref, hash, section] = [m[1]!, m[2], m[3]];
      if (RUN_OUTPUT.test(ref)) continue;
      const target = path.resolve(base(ref), ref);
      if (!existsSync(target)) {
        problems.push(`${where}: ${ref} does not exist`);
        continue;
      }
      if (!target.startsWith(DOCS + path.sep) && target !== path.join(ROOT, 'README.md')) problems.push(`${where}: ${ref} is not shipped (only README.md and docs/ are)`);
      if (hash !== undefined && !anchors(read(target)).has(hash.slice(1))) problems.push(`${where}: ${ref}${hash} names no heading`);
      // "docs/methods.md §8.3": that numbered heading must exist.
      if (section !== undefined && !new RegExp(`^#{2,3} ${section.replace('.', '\\.')}[. ]`, 'm').test(read(target))) {
        problems.push(`${where}: ${ref} has no section ${section}`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test('the fingerprints docs/datasets.md quotes are those of the datasets as loaded', async () => {
  const doc = read(path.join(DOCS, 'datasets.md'));
  for (const name of ['mnist', 'fashion']) {
    const row = new RegExp(`^\\| \`${name}\` \\| \`([0-9a-f]{64})\` \\| \`([0-9a-f]{64})\` \\|$`, 'm').exec(doc);
    assert.ok(row, `docs/datasets.md has no fingerprint row for ${name}`);
    const s = datasetStats(await openDataset(name));
    assert.deepEqual([row[1], row[2]], [s.train_sha256, s.test_sha256], `${name} fingerprints`);
  }
});
