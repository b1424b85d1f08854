// The explorer page's modules: src/web/*.ts compile with their own tsconfig (DOM
// types; the service's answer types come from the main project's declarations,
// imported type-only) into dist/src/web/, and what the browser loads there
// imports nothing but its sibling modules, each of which exists. Reads and
// compiles text only (no libtorch, no browser: test/explorer.test.ts drives it).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SOURCES = path.join(ROOT, 'src', 'web');
const BUILT = path.join(ROOT, 'dist', 'src', 'web');

/** Every module specifier a compiled file loads: static imports and re-exports, dynamic imports. */
function specifiers(js: string): string[] {
  return [...js.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'";]*?from\s*'([^']+)'|(?:^|\n)\s*import\s*'([^']+)'|import\(\s*'([^']+)'\s*\)/g)].map(
    (m) => (m[1] ?? m[2] ?? m[3])!,
  );
}

test('src/web compiles with its own tsconfig (DOM types, the service answer types)', () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(SOURCES, 'tsconfig.json')], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `tsc -p src/web/tsconfig.json:\n${r.stdout}${r.stderr}`);
});

test('the compiled page loads only its own modules, and every one is there', () => {
  const modules = readdirSync(SOURCES)
    .filter((n) => n.endsWith('.ts'))
    .map((n) => n.replace(/\.ts$/, '.js'));
  assert.ok(modules.includes('app.js') && modules.length >= 6, `src/web holds ${modules.join(', ')}`);
  assert.match(readFileSync(path.join(SOURCES, 'index.html'), 'utf8'), /<script type="module" src="app\.js"><\/script>/);
  const problems: string[] = [];
  for (const m of modules) {
    const file = path.join(BUILT, m);
    if (!existsSync(file)) {
      problems.push(`${m} was not built`);
      continue;
    }
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      if (!/^\.\/[\w-]+\.js$/.test(spec)) problems.push(`${m} loads '${spec}' (only sibling modules exist in the browser)`);
      else if (!modules.includes(spec.slice(2))) problems.push(`${m} loads '${spec}', which is not one of the page's modules`);
    }
  }
  assert.deepEqual(problems, []);
});

test('the import check sees static, bare and dynamic imports (a value import of the service would be caught)', () => {
  assert.deepEqual(specifiers("import { x } from '../serve/answers.js';\nimport './dom.js';\nconst m = await import('./gone.js');"), [
    '../serve/answers.js',
    './dom.js',
    './gone.js',
  ]);
});
