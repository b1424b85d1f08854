// Architecture: the layer table of CONTRIBUTING.md, checked on the sources. A file may
// import its own layer and the layers below it, never one above; only
// src/tensor/ touches the native addon. Reads text only (no libtorch).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Height of each src/ folder (and of src/index.ts), as in CONTRIBUTING.md's layer table: every layer has its own
 * height, so between two layers imports run one way only (an import of a layer of equal height is an import of itself).
 */
const HEIGHT: Record<string, number> = {
  util: 0, // the command-line option parser, UsageError, progress bars: plain TypeScript, no libtorch
  tensor: 1,
  io: 2, // checkpoint files: tensors in, tensors out
  nn: 3,
  optim: 4,
  models: 5,
  data: 6,
  metric: 7, // its training loss takes an optimizer step (optim below)
  attack: 8,
  defense: 9,
  run: 10, // experiment config, checkpoint storage and verification, run directories, the model factory
  eval: 11,
  train: 12, // the trainer evaluates after epochs (eval below), never the other way
  reproduce: 13, // published tables as data, the run planner and the comparison (trains and swipes through train/ and eval/)
  bench: 14, // bench/ (outside src/): the side-by-side benchmarks; `rankshield bench` loads them
  serve: 15, // the HTTP service (the CLI starts it)
  web: 16, // the explorer page (it reads the service's types)
  cli: 17,
  'index.ts': 18, // src/index.ts, the package's public API: the top, it may import every layer
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/**
 * Import aliases of the explorer's tsconfig (`@serve/…` → the main project's declarations of src/serve/):
 * an import through one is an import of that layer.
 */
const ALIASES: ReadonlyMap<string, string> = new Map(
  Object.entries(
    (JSON.parse(readFileSync(path.join(ROOT, 'src', 'web', 'tsconfig.json'), 'utf8')) as { compilerOptions: { paths?: Record<string, string[]> } })
      .compilerOptions.paths ?? {},
  ).map(([alias, [target]]) => [alias.replace(/\*$/, ''), /dist\/src\/([\w-]+)\/\*$/.exec(target ?? '')?.[1] ?? `unmapped alias ${alias}`]),
);

/** Import specifiers of a file that name a source: relative ones and aliases (static `from '…'` and dynamic `import('…')`). */
function relativeImports(text: string): string[] {
  return [...text.matchAll(/(?:from\s+|import\()\s*'((?:\.{1,2}|@[\w-]+)\/[^']+)'/g)]
    .map((m) => m[1]!)
    .filter((spec) => spec.startsWith('.') || [...ALIASES.keys()].some((a) => spec.startsWith(a)));
}

const files: SourceFile[] = sourceFiles(path.join(ROOT, 'src')).map((file) => ({
  file,
  layer: path.relative(path.join(ROOT, 'src'), file).split(path.sep)[0]!,
  text: readFileSync(file, 'utf8'),
}));

/** bench/'s TypeScript, as one more layer (below the CLI that runs it). */
const benchFiles: SourceFile[] = readdirSync(path.join(ROOT, 'bench'))
  .filter((n) => n.endsWith('.ts'))
  .map((n) => ({ file: path.join(ROOT, 'bench', n), layer: 'bench', text: readFileSync(path.join(ROOT, 'bench', n), 'utf8') }));

/** The layer of an import target: a src/ folder, or 'bench'. */
function targetLayer(from: string, spec: string): string | null {
  for (const [alias, layer] of ALIASES) if (spec.startsWith(alias)) return layer;
  const rel = path.relative(ROOT, path.resolve(path.dirname(from), spec)).split(path.sep);
  if (rel[0] === 'src') return rel.length === 2 ? 'index.ts' : rel[1]!;
  return rel[0] === 'bench' ? 'bench' : null;
}

test('every src/ folder has a place in the layer map', () => {
  assert.ok(files.length > 50, `found only ${files.length} sources under src/`);
  const unknown = [...new Set(files.map((f) => f.layer))].filter((l) => !(l in HEIGHT));
  assert.deepEqual(unknown, [], 'folders missing from the layer map');
});

interface SourceFile {
  file: string;
  layer: string;
  text: string;
}

/** Every import of a layer above the importing file's own (or outside src/ and bench/), one line each. */
function upwardImports(sources: readonly SourceFile[], height: Readonly<Record<string, number>>): string[] {
  const upward: string[] = [];
  for (const { file, layer, text } of sources) {
    for (const spec of relativeImports(text)) {
      const target = targetLayer(file, spec);
      if (target === null) {
        upward.push(`${path.relative(ROOT, file)} → ${spec} (outside src/ and bench/)`);
        continue;
      }
      if (height[target]! > height[layer]!) upward.push(`${path.relative(ROOT, file)} (${layer}) → ${spec} (${target})`);
    }
  }
  return upward;
}

test('every layer has its own height', () => {
  const byHeight = new Map<number, string[]>();
  for (const [layer, h] of Object.entries(HEIGHT)) byHeight.set(h, [...(byHeight.get(h) ?? []), layer]);
  assert.deepEqual(
    [...byHeight.values()].filter((layers) => layers.length > 1),
    [],
  );
});

test('the check reports an upward import and passes a downward one', () => {
  const at = (rel: string, text: string): SourceFile => ({ file: path.join(ROOT, rel), layer: rel.split('/')[1]!, text });
  const synthetic = [
    at('src/eval/x.ts', "import { train } from '../train/trainer.js';"), // eval → train: upward
    at('src/run/x.ts', "import type { BenignMetrics } from '../eval/benign.js';"), // run → eval: upward
    at('src/util/x.ts', "const t = await import('../tensor/index.js');"), // util → tensor, dynamic: upward
    at('src/train/x.ts', "import { evaluateBenign } from '../eval/benign.js';\nimport { SIDECAR } from '../run/checkpoint.js';"), // downward
    at('src/eval/y.ts', "import { embedDataset } from './embed.js';"), // own layer
    at('src/serve/x.ts', "import type { ModelInfo } from '@serve/answers.js';\nimport type { Hit } from '@fastify/static';"), // alias of its own layer; a package
    at('src/attack/x.ts', "import type { ModelInfo } from '@serve/answers.js';"), // alias of a layer above: upward
  ];
  assert.deepEqual(upwardImports(synthetic, HEIGHT), [
    'src/eval/x.ts (eval) → ../train/trainer.js (train)',
    'src/run/x.ts (run) → ../eval/benign.js (eval)',
    'src/util/x.ts (util) → ../tensor/index.js (tensor)',
    'src/attack/x.ts (attack) → @serve/answers.js (serve)',
  ]);
  assert.deepEqual([...ALIASES], [['@serve/', 'serve']], "src/web/tsconfig.json's aliases");
});

test('no file imports a layer above its own', () => {
  assert.deepEqual(upwardImports([...files, ...benchFiles], HEIGHT), []);
});

test('no import circle among the sources', () => {
  const all = [...files, ...benchFiles];
  const edges = new Map(
    all.map((f) => [
      f.file,
      relativeImports(f.text)
        .filter((spec) => spec.startsWith('.'))
        .map((spec) => path.resolve(path.dirname(f.file), spec).replace(/\.js$/, '.ts')),
    ]),
  );
  const state = new Map<string, 'open' | 'done'>();
  const circles: string[] = [];
  const visit = (file: string, trail: string[]): void => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'open') {
      circles.push([...trail.slice(trail.indexOf(file)), file].map((f) => path.relative(ROOT, f)).join(' → '));
      return;
    }
    state.set(file, 'open');
    for (const next of edges.get(file) ?? []) visit(next, [...trail, file]);
    state.set(file, 'done');
  };
  for (const f of all) visit(f.file, []);
  assert.deepEqual(circles, []);
});

test('only src/tensor/ loads the native addon', () => {
  const loaders = files.filter((f) => /rankshield_native|'native',\s*'build'|native\/build/.test(f.text)).map((f) => f.layer);
  assert.ok(loaders.length > 0, 'the addon loader was not found; update this test with the loading idiom');
  assert.deepEqual([...new Set(loaders)], ['tensor']);
});
