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
/** The documents at the package root; package.json "files" ships them beside docs/. */
const ROOT_DOCS = ['README.md', 'CONTRIBUTING.md', 'CHANGELOG.md'];
const docFiles = (): string[] =>
  readdirSync(DOCS)
    .filter((f) => f.endsWith('.md'))
    .map((f) => path.join(DOCS, f));

test("docs/cli.md is generated from the commands' --help texts and up to date", () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'cli-docs.js'), '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
});

test("every example of docs/api.md type-checks in a strict consumer project importing 'rankshield'", () => {
  const blocks = tsBlocks(read(path.join(DOCS, 'api.md')));
  assert.ok(blocks.length >= 8, `expected the guide's examples, found ${blocks.length}`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rankshield-api-docs-'));
  // 'rankshield' resolves to this checkout through its package.json "exports", as an installed package would.
  mkdirSync(path.join(dir, 'node_modules'));
  symlinkSync(ROOT, path.join(dir, 'node_modules', 'rankshield'));
  symlinkSync(path.join(ROOT, 'node_modules', '@types'), path.join(dir, 'node_modules', '@types'));
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
  writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({ ...CONSUMER_TSCONFIG, compilerOptions: { ...CONSUMER_TSCONFIG.compilerOptions, noEmit: true } }),
  );
  blocks.forEach((b, i) => writeFileSync(path.join(dir, `example${i + 1}.ts`), b));
  const r = tsc(path.join(dir, 'tsconfig.json'));
  assert.equal(r.status, 0, `docs/api.md examples do not compile:\n${r.output}`);
});

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchors(markdown: string): Set<string> {
  return new Set(
    [...markdown.matchAll(/^#+ (.+)$/gm)].map((m) =>
      m[1]!
        .toLowerCase()
        .replace(/[^a-z0-9 -]/g, '')
        .replace(/ /g, '-'),
    ),
  );
}

/** Reports a run writes (report.md, swipe.md, summary.md, trail.md, losses.md, certify.md, budgets.md, compare.md, comparison.md): outputs named in the docs, not documentation files. */
const RUN_OUTPUT = /(^|\/)(report|swipe|summary|trail|losses|certify|budgets|compare|comparison)\.md$/;

test('README, docs/, --help texts and source comments point only at files and sections that exist in the package', async () => {
  const texts: [string, string][] = [
    ...ROOT_DOCS.map((f): [string, string] => [path.join(ROOT, f), read(path.join(ROOT, f))]),
    ...docFiles().map((f): [string, string] => [f, read(f)]),
    [path.join(ROOT, '--help'), help()],
    ...(await commandUsages()).map(({ name, usage }): [string, string] => [path.join(ROOT, `${name} --help`), usage]),
  ];
  const sources = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
    );
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
      if (!target.startsWith(DOCS + path.sep) && !ROOT_DOCS.some((f) => target === path.join(ROOT, f)))
        problems.push(`${where}: ${ref} is not shipped (only ${ROOT_DOCS.join(', ')} and docs/ are)`);
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

/**
 * Phrases that narrate how the software was developed rather than what it does: who ran what beside
 * which jobs, on which "lent" or "development" machine, in which session, on which day. A measurement
 * states its provenance (command, commit, CPU, threads, libtorch) instead.
 */
const NARRATIVE: [RegExp, string][] = [
  [/load average/i, 'a load average'],
  [/\bengineers?\b/i, 'engineers'],
  [/\blent\b/i, '"lent"'],
  [/\bthis session\b|\bsessions?'s\b/i, 'a session'],
  [/development machine/i, 'the development machine'],
  [/\bother (?:engineers' |people's )?jobs\b/i, 'other jobs'],
  [/\bwe tried\b/i, '"we tried"'],
  [/shared machine/i, 'a shared machine'],
  [/\b(?:on|since|until|before|after|as of) \d{4}-\d{2}-\d{2}\b/i, 'a date as narrative (give the commit in a provenance line)'],
];

/** Every Markdown file under a folder (docs/api/, when generated, included). */
function markdownUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? markdownUnder(path.join(dir, e.name)) : e.name.endsWith('.md') ? [path.join(dir, e.name)] : [],
  );
}

/** The lines of a text that narrate development, as "file:line: what". */
function narration(where: string, text: string): string[] {
  return text
    .split('\n')
    .flatMap((line, i) => NARRATIVE.filter(([re]) => re.test(line)).map(([, what]) => `${where}:${i + 1}: ${what}: ${line.trim().slice(0, 120)}`));
}

test('the narrative check catches the sentences it is meant for', () => {
  const sample = [
    "It took 5 min 58 s while two other engineers' jobs held the load average at 4.5–5.3.",
    'No GPU machine was lent to this project in this session.',
    'Measured on the 2-core development machine on 2026-12-02.',
  ].join('\n');
  assert.deepEqual(
    narration('sample', sample).map((p) => p.split(': ')[1]),
    [
      'a load average',
      'engineers',
      'other jobs',
      '"lent"',
      'a session',
      'the development machine',
      'a date as narrative (give the commit in a provenance line)',
    ],
  );
  assert.deepEqual(narration('sample', 'Provenance: `npm run demo`, commit fdb4784 (2026-11-22), AMD EPYC, 2 threads.'), []);
});

test('README, CONTRIBUTING, CHANGELOG, docs/ and every --help text describe the software, not its development', async () => {
  const texts: [string, string][] = [
    ...ROOT_DOCS.map((f): [string, string] => [f, read(path.join(ROOT, f))]),
    ...markdownUnder(DOCS).map((f): [string, string] => [path.relative(ROOT, f), read(f)]),
    ['rankshield --help', help()],
    ...(await commandUsages()).map(({ name, usage }): [string, string] => [`rankshield ${name} --help`, usage]),
  ];
  assert.ok(texts.length > ROOT_DOCS.length + 10, 'the README, the docs and the usage texts were all read');
  assert.deepEqual(
    texts.flatMap(([where, text]) => narration(where, text)),
    [],
  );
});

test('README.md is at most 200 lines, for users (the rest lives in docs/)', () => {
  const lines = read(path.join(ROOT, 'README.md')).split('\n');
  if (lines.at(-1) === '') lines.pop();
  assert.ok(lines.length <= 200, `README.md has ${lines.length} lines`);
});

/** Every number a result file holds (recursively), for the check below. */
function resultNumbers(dir: string, into: number[] = []): number[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) resultNumbers(full, into);
    else if (e.name.endsWith('.json')) {
      const walk = (v: unknown): void => {
        if (typeof v === 'number') into.push(v);
        else if (Array.isArray(v)) v.forEach(walk);
        else if (v !== null && typeof v === 'object') Object.values(v).forEach(walk);
      };
      walk(JSON.parse(readFileSync(full, 'utf8')));
    }
  }
  return into;
}

/** The decimals written in the table rows of a Markdown text (`| … 83.6 … |`). */
function tableDecimals(markdown: string): string[] {
  return markdown
    .split('\n')
    .filter((l) => l.startsWith('|') && !/^\|\s*-/.test(l))
    .flatMap((l) => [...l.matchAll(/[−-]?\d+\.\d+/g)].map((m) => m[0].replace('−', '-')));
}

test('docs/results.md and the README results table are what scripts/results-doc.js makes of the committed result files', () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'results-doc.js'), '--check'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

test('every number in the README results table and docs/results.md is in a committed result file', () => {
  const known = [...resultNumbers(path.join(ROOT, 'results')), ...resultNumbers(path.join(ROOT, 'experiments', 'results'))];
  // A shown number matches a stored one rounded to the shown digits; a difference may be stored or derived
  // from two stored numbers, so it is checked against differences too (published − measured pairs).
  const shownAs = (x: number, digits: number): string => x.toFixed(digits);
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const results = readme.slice(readme.indexOf('<!-- RESULTS:START'), readme.indexOf('<!-- RESULTS:END'));
  const texts = [results, readFileSync(path.join(ROOT, 'docs', 'results.md'), 'utf8')];
  const missing = new Set<string>();
  for (const text of texts) {
    for (const shown of tableDecimals(text)) {
      const digits = shown.split('.')[1]!.length;
      const value = Number(shown);
      const match = known.some(
        (k) =>
          shownAs(k, digits) === shownAs(value, digits) ||
          shownAs(100 * k, digits) === shownAs(value, digits) ||
          shownAs(-k, digits) === shownAs(value, digits),
      );
      if (!match) missing.add(shown);
    }
  }
  assert.deepEqual([...missing], [], `numbers in the results tables that no committed result file holds: ${[...missing].join(', ')}`);
  // The check itself: a number typed by hand is caught.
  assert.equal(
    tableDecimals('| x | 12345.678 |').some((s) => known.some((k) => shownAs(k, 3) === s)),
    false,
  );
});
