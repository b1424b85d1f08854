// Architecture: the README's layer table, checked on the sources. A file may
// import its own layer and the layers below it, never one above; only
// src/tensor/ touches the native addon. Reads text only (no libtorch).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Height of each src/ folder (and of src/index.ts), as in the README's Architecture table; equal heights are one layer. */
const HEIGHT: Record<string, number> = {
  util: 0, // the command-line option parser and UsageError: plain TypeScript, no libtorch
  tensor: 0,
  nn: 1,
  optim: 1,
  io: 2, // checkpoint files: tensors in, tensors out (the README's table puts it here)
  models: 3,
  data: 3,
  metric: 4,
  attack: 5,
  defense: 6,
  train: 7,
  eval: 7,
  bench: 7.5, // bench/ (outside src/): the side-by-side benchmarks; `rankshield bench` loads them
  cli: 8,
  serve: 8, // the HTTP service, beside the CLI (which starts it)
  web: 8, // the explorer page's static files (served by serve/, no TypeScript)
  'index.ts': 9, // src/index.ts, the package's public API: the top, it may import every layer
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Relative import specifiers of a file (static `from '…'` and dynamic `import('…')`). */
function relativeImports(text: string): string[] {
  return [...text.matchAll(/(?:from\s+|import\()\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
}

const files = sourceFiles(path.join(ROOT, 'src')).map((file) => ({
  file,
  layer: path.relative(path.join(ROOT, 'src'), file).split(path.sep)[0]!,
  text: readFileSync(file, 'utf8'),
}));

/** bench/'s TypeScript, as one more layer (below the CLI that runs it). */
const benchFiles = readdirSync(path.join(ROOT, 'bench'))
  .filter((n) => n.endsWith('.ts'))
  .map((n) => ({ file: path.join(ROOT, 'bench', n), layer: 'bench', text: readFileSync(path.join(ROOT, 'bench', n), 'utf8') }));

/** The layer of an import target: a src/ folder, or 'bench'. */
function targetLayer(from: string, spec: string): string | null {
  const rel = path.relative(ROOT, path.resolve(path.dirname(from), spec)).split(path.sep);
  if (rel[0] === 'src') return rel.length === 2 ? 'index.ts' : rel[1]!;
  return rel[0] === 'bench' ? 'bench' : null;
}

test('every src/ folder has a place in the layer map', () => {
  assert.ok(files.length > 50, `found only ${files.length} sources under src/`);
  const unknown = [...new Set(files.map((f) => f.layer))].filter((l) => !(l in HEIGHT));
  assert.deepEqual(unknown, [], 'folders missing from the layer map');
});

test('no file imports a layer above its own', () => {
  const upward: string[] = [];
  for (const { file, layer, text } of [...files, ...benchFiles]) {
    for (const spec of relativeImports(text)) {
      const target = targetLayer(file, spec);
      if (target === null) {
        upward.push(`${path.relative(ROOT, file)} → ${spec} (outside src/ and bench/)`);
        continue;
      }
      if (HEIGHT[target]! > HEIGHT[layer]!) upward.push(`${path.relative(ROOT, file)} (${layer}) → ${spec} (${target})`);
    }
  }
  assert.deepEqual(upward, []);
});

test('no import circle among the sources', () => {
  const all = [...files, ...benchFiles];
  const edges = new Map(all.map((f) => [f.file, relativeImports(f.text).map((spec) => path.resolve(path.dirname(f.file), spec).replace(/\.js$/, '.ts'))]));
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
