#!/usr/bin/env node
// Mutation fuzzing of the file parsers (compiled dist/), for hostile input:
//   npm run fuzz -- --seconds S [--seed N] [--target NAME] [--json] [--out DIR]
//
// The parent runs one child process per (target, time slice), at most two at a
// time (the CI machine has 2 cores). A child mutates valid seed files built in
// memory (or read from test/fixtures) with a PRNG seeded from --seed, and feeds
// them to its target. Outcomes:
//   expected  the parser threw an Error with a message (bad input, named)
//   crash     anything else thrown (a non-Error, an Error without a message, or a
//             JS built-in error such as TypeError/RangeError, i.e. the parser did
//             not recognise the bad input itself), a tensor leaked, or the child
//             died / passed the memory watch
//   hang      one input ran past --case-ms (watchdog) and, replayed alone in a
//             fresh process, again did not finish in time
// Every crash/hang input is written under --out (default: a new folder in the
// OS temp dir, printed at the end). With --json the last stdout line is one
// JSON object; the exit code is 1 when there were crashes or hangs.
import { fork } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { deflateSync, gzipSync } from 'node:zlib';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist', 'src');
const FIXTURES = path.join(ROOT, 'test', 'fixtures');
const TARGETS = ['pickle', 'torch', 'zip', 'safetensors', 'matlab', 'idx'];

/** Children's V8 heap cap and the RSS past which the parent kills one (a parser allocating without bound). */
const CHILD_HEAP_MIB = 512;
const CHILD_RSS_LIMIT_MIB = 2048;
/** Inputs never grow past this: the parsers' limits are tested by the unit tests, not by giant files. */
const MAX_INPUT_BYTES = 1 << 18;
/** A child runs cases for this long between event-loop turns (heartbeats, IPC). */
const BATCH_MS = 50;
const HEARTBEAT_MS = 200;
const STARTUP_GRACE_MS = 15_000;
/** Bounds of one child's share of a target (seconds). */
const MAX_SLICE_S = 60;
const MIN_SLICE_S = 1;
/** Inputs saved per (target, kind, reason); the rest are only counted. */
const SAVED_PER_REASON = 3;

// ---------------------------------------------------------------- PRNG

/** sfc32: small, fast, good enough for mutation choices; fully determined by its seed. */
function makeRng(seed) {
  let a = 0x9e3779b9,
    b = 0x243f6a88,
    c = 0xb7e15162,
    d = seed >>> 0;
  const next = () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    const t = (a + b + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 16; i++) next();
  return {
    u32: next,
    /** Integer in [0, n). */
    below: (n) => (n <= 0 ? 0 : next() % n),
    chance: (p) => next() / 2 ** 32 < p,
    pick: (list) => list[next() % list.length],
  };
}

/** A 32-bit seed from several numbers (FNV-1a over their decimal text). */
function mixSeed(...parts) {
  let h = 0x811c9dc5;
  for (const ch of parts.join('/')) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

// ---------------------------------------------------------------- mutations

const INTERESTING = [
  0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, 127, 128, 255, 256, 1000, 1024, 4096, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe,
  0xffffffff, -1, -2, -128, -32768, -2147483648,
];
const INTERESTING_64 = [0n, 1n, 0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffffffffffn, 1n << 53n, (1n << 53n) + 1n, 1n << 32n, 100000001n];

function randomRange(rng, length) {
  const start = rng.below(length + 1);
  const len = Math.min(length - start, 1 + rng.below(rng.chance(0.8) ? 16 : 256));
  return [start, len];
}

/** Each mutation returns a new array (or the same one mutated in place when that is cheaper). */
const MUTATIONS = {
  flipBit(rng, b) {
    if (b.length === 0) return b;
    b[rng.below(b.length)] ^= 1 << rng.below(8);
    return b;
  },
  setByte(rng, b) {
    if (b.length === 0) return b;
    b[rng.below(b.length)] = rng.chance(0.5) ? rng.u32() & 0xff : rng.pick([0, 1, 0x7f, 0x80, 0xff]);
    return b;
  },
  interestingInt(rng, b) {
    const width = rng.pick([1, 2, 4, 4, 8]);
    if (b.length < width) return b;
    const at = rng.below(b.length - width + 1);
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const little = rng.chance(0.7);
    if (width === 8) view.setBigUint64(at, rng.pick(INTERESTING_64), little);
    else {
      const v = rng.pick(INTERESTING) >>> 0;
      if (width === 1) view.setUint8(at, v & 0xff);
      else if (width === 2) view.setUint16(at, v & 0xffff, little);
      else view.setUint32(at, v, little);
    }
    return b;
  },
  /** Nudges a 16/32-bit field by a little: most length and offset fields then point just off. */
  tweakLength(rng, b) {
    const width = rng.pick([2, 4]);
    if (b.length < width) return b;
    const at = rng.below(b.length - width + 1);
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const little = rng.chance(0.7);
    const delta = rng.pick([-16, -8, -4, -2, -1, 1, 2, 4, 8, 16, 256, 4096]);
    if (width === 2) view.setUint16(at, (view.getUint16(at, little) + delta) & 0xffff, little);
    else view.setUint32(at, (view.getUint32(at, little) + delta) >>> 0, little);
    return b;
  },
  insertBytes(rng, b) {
    const at = rng.below(b.length + 1);
    const extra = Uint8Array.from({ length: 1 + rng.below(16) }, () =>
      rng.chance(0.5) ? rng.u32() & 0xff : rng.pick([0, 0x28, 0x2e, 0x32, 0x5d, 0x61, 0x85, 0x86, 0xff]),
    );
    return concat(b.subarray(0, at), extra, b.subarray(at));
  },
  deleteRange(rng, b) {
    const [start, len] = randomRange(rng, b.length);
    return concat(b.subarray(0, start), b.subarray(start + len));
  },
  /** Copies a chunk elsewhere (repeats pickle opcodes, zip records, MAT elements). */
  duplicateChunk(rng, b) {
    const [start, len] = randomRange(rng, b.length);
    const chunk = b.slice(start, start + len);
    const at = rng.below(b.length + 1);
    const times = rng.chance(0.9) ? 1 : 1 + rng.below(64);
    return concat(b.subarray(0, at), ...Array(times).fill(chunk), b.subarray(at));
  },
  truncate(rng, b) {
    return b.subarray(0, rng.below(b.length + 1));
  },
};
const MUTATION_NAMES = Object.keys(MUTATIONS);

/**
 * Per-format dictionaries (as AFL's): byte strings that mean something to the parser — opcodes,
 * signatures, tags — inserted or written over, sometimes many times in a row (nesting, DAGs, lists).
 */
const TOKENS = {
  pickle: [
    [0x32, 0x86],
    [0x28],
    [0x32],
    [0x85],
    [0x86],
    [0x87],
    [0x74],
    [0x6c],
    [0x64],
    [0x5d],
    [0x61],
    [0x65],
    [0x7d],
    [0x73],
    [0x75],
    [0x29],
    [0x68, 0],
    [0x71, 0],
    [0x94],
    [0x30],
    [0x31],
    [0x2e],
    [0x4e],
    [0x88],
    [0x62],
    [0x52],
    [0x81],
    [0x51],
    [0x93],
    [0x5d, 0x32, 0x61],
    [0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0x80],
    [0x8b, 0xff, 0xff, 0, 0],
    [0x58, 0xff, 0xff, 0xff, 0x7f],
    [0x8d, 0, 0, 0, 0, 0, 0, 0, 0x40],
    [0x8c, 2, 0xc3, 0x28],
    [0x4a, 0xff, 0xff, 0xff, 0x7f],
    [0x4a, 0, 0, 0, 0],
    [0x4b, 0],
  ],
  zip: [
    [0x50, 0x4b, 0x03, 0x04],
    [0x50, 0x4b, 0x01, 0x02],
    [0x50, 0x4b, 0x05, 0x06],
    [0x50, 0x4b, 0x06, 0x06],
    [0x50, 0x4b, 0x06, 0x07],
    [0xff, 0xff, 0xff, 0xff],
    [1, 0, 24, 0],
    [8, 0],
    [0, 0],
  ],
  matlab: [
    [14, 0, 0, 0],
    [15, 0, 0, 0],
    [6, 0, 0, 0, 8, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0],
    [6, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0],
    [5, 0, 0, 0, 8, 0, 0, 0, 0xff, 0xff, 0, 0, 0xff, 0xff, 0, 0],
    [1, 0, 0, 0, 0, 0, 0, 0],
    [1, 0, 0, 0],
    [16, 0, 0, 0],
    [18, 0, 0, 0],
  ],
  idx: [
    [0, 0, 8, 1],
    [0, 0, 8, 3],
    [0, 0, 8, 0xff],
    [0x1f, 0x8b],
    [0xff, 0xff, 0xff, 0xff],
  ],
  safetensors: [[0x7b], [0x7d], [0x22], [0x5b], [0x5d], [0x2c], [0x3a], [0xff], [0xc3, 0x28]],
};

function insertToken(rng, b, tokens) {
  if (tokens.length === 0) return b;
  const token = Uint8Array.from(rng.pick(tokens));
  const times = rng.chance(0.6) ? 1 : 1 + rng.below(rng.chance(0.5) ? 8 : 128);
  const at = rng.below(b.length + 1);
  return concat(b.subarray(0, at), ...Array(times).fill(token), b.subarray(at));
}

function overwriteToken(rng, b, tokens) {
  if (tokens.length === 0) return b;
  const token = rng.pick(tokens);
  if (b.length < token.length) return b;
  b.set(token, rng.below(b.length - token.length + 1));
  return b;
}

function splice(rng, b, other) {
  const cut = rng.below(b.length + 1);
  const from = rng.below(other.length + 1);
  return concat(b.subarray(0, cut), other.subarray(from));
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** 1–4 stacked mutations of a copy of `input`, sometimes spliced with another corpus entry or given tokens. */
function mutate(rng, input, corpus, tokens = []) {
  let b = Uint8Array.from(input);
  const count = 1 + rng.below(rng.chance(0.7) ? 2 : 4);
  for (let i = 0; i < count; i++) {
    const dice = rng.below(100);
    if (dice < 8) b = splice(rng, b, rng.pick(corpus));
    else if (dice < 20) b = insertToken(rng, b, tokens);
    else if (dice < 28) b = overwriteToken(rng, b, tokens);
    else b = MUTATIONS[rng.pick(MUTATION_NAMES)](rng, b);
    if (b.length > MAX_INPUT_BYTES) b = b.subarray(0, MAX_INPUT_BYTES);
  }
  return b;
}

// ---------------------------------------------------------------- seed builders

const u32le = (v) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};

/** A plain zip (STORED or DEFLATE entries) with correct CRCs, so mutated contents reach the layer above (the tests' builder). */
async function zipBuilder() {
  const { zipOf } = await import(pathToFileURL(path.join(ROOT, 'dist', 'test', 'helpers', 'zip-builder.js')).href);
  return (entries) => new Uint8Array(zipOf(entries));
}

/** Pickles that exercise what torch files do not: protocol 0 text, memo DAGs, long ints, bytes, frames. */
function syntheticPickles() {
  const b = (...parts) => new Uint8Array(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p)))));
  return [
    b("(dp0\nS'a'\np1\n(lp2\nI1\naI2\naF1.5\naI01\nasS'b'\np3\nL12345678901234567890L\nsS'c'\nNs."),
    b([0x80, 2, 0x4e], ...Array(12).fill([0x32, 0x86]), [0x2e]),
    b([0x80, 2, 0x5d, 0x71, 0, 0x28, 0x4b, 1, 0x4d, 0x2c, 1, 0x4a, 0xfe, 0xff, 0xff, 0xff, 0x88, 0x89, 0x4e, 0x68, 0, 0x65, 0x2e]),
    b(
      [0x80, 4, 0x95],
      Buffer.from(new BigUint64Array([30n]).buffer),
      [0x7d, 0x94, 0x8c, 1],
      'k',
      [0x94, 0x43, 3, 1, 2, 3, 0x94, 0x73],
      [0x8c, 2],
      Buffer.from('é', 'utf8'),
      [0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x73, 0x2e],
    ),
    // ((((),),3),) popped, then {1: 2}
    b([0x80, 2, 0x28, 0x29, 0x85, 0x4b, 3, 0x86, 0x74, 0x30, 0x7d, 0x28, 0x4b, 1, 0x4b, 2, 0x75, 0x2e]),
    b('ccollections\nOrderedDict\n)R}bX\x01\x00\x00\x00a\x4b\x01s.'),
  ];
}

/** MAT v5 (little-endian) variables: a struct array like Cars-196's, a cell of chars, numbers. */
function matFiles() {
  const element = (type, payload) => Buffer.concat([u32le(type), u32le(payload.length), payload, Buffer.alloc((8 - (payload.length % 8)) % 8)]);
  const small = (type, payload) => Buffer.concat([u32le((payload.length << 16) | type), payload, Buffer.alloc(4 - payload.length)]);
  const matrix = (cls, dims, name, body) => {
    const d = Buffer.concat(dims.map((v) => u32le(v)));
    return element(
      14,
      Buffer.concat([
        element(6, Buffer.concat([u32le(cls), u32le(0)])),
        element(5, d),
        name === '' ? small(1, Buffer.alloc(0)) : element(1, Buffer.from(name, 'latin1')),
        ...body,
      ]),
    );
  };
  const utf16 = (text) => Buffer.from(text, 'utf16le');
  const char = (text) => matrix(4, [1, text.length], '', [element(4, utf16(text))]);
  const double = (v) => {
    const x = Buffer.alloc(8);
    x.writeDoubleLE(v);
    return matrix(6, [1, 1], '', [element(9, x)]);
  };
  const fieldNames = Buffer.alloc(32 * 3);
  ['relative_im_path', 'class', 'test'].forEach((f, i) => fieldNames.write(f, i * 32, 'latin1'));
  const struct = matrix(2, [1, 2], 'annotations', [
    small(5, u32le(32)),
    element(1, fieldNames),
    char('car_ims/000001.jpg'),
    double(1),
    matrix(6, [1, 1], '', [small(2, Buffer.from([0]))]),
    char('car_ims/000002.jpg'),
    double(2),
    double(1),
  ]);
  const cell = matrix(1, [1, 2], 'class_names', [
    char('AM General Hummer SUV 2000'),
    matrix(4, [1, 2], '', [element(16, Buffer.from('é!', 'utf8').subarray(0, 3))]),
    matrix(6, [0, 0], '', []),
  ]);
  const numbers = matrix(6, [2, 3], 'm', [element(5, Buffer.from(new Int32Array([1, -2, 3, 4, 5, 6]).buffer))]);
  const header = Buffer.alloc(128, 0x20);
  header.write('MATLAB 5.0 MAT-file, Platform: GLNXA64, fuzz seed', 0, 'latin1');
  header.writeUInt16LE(0x0100, 124);
  header.write('IM', 126, 'latin1');
  const compressed = (el) => {
    const z = deflateSync(el);
    return Buffer.concat([u32le(15), u32le(z.length), z]);
  };
  return [Buffer.concat([header, struct, cell, numbers]), Buffer.concat([header, compressed(struct), compressed(cell)]), Buffer.concat([header, numbers])].map(
    (b) => new Uint8Array(b),
  );
}

function idxFiles() {
  const images = Buffer.alloc(16 + 3 * 4 * 4);
  images.writeUInt32BE(0x803, 0);
  images.writeUInt32BE(3, 4);
  images.writeUInt32BE(4, 8);
  images.writeUInt32BE(4, 12);
  for (let i = 16; i < images.length; i++) images[i] = (i * 37) & 0xff;
  const labels = Buffer.from([0, 0, 8, 1, 0, 0, 0, 3, 4, 0, 9]);
  const asImages = (file) => concat(Uint8Array.of(0), file);
  const asLabels = (file) => concat(Uint8Array.of(1), file);
  return [asImages(images), asLabels(labels), asImages(gzipSync(images)), asLabels(gzipSync(labels))];
}

/**
 * The torch.save fixtures; `malicious.pt` (refused by design) only when `withMalicious`.
 * TorchScript archives (torch.jit.save: they hold constants.pkl and code/) are
 * another format, read by libtorch, not by the state-dict reader: not seeds here.
 */
function fixtureFiles(withMalicious = true) {
  return readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.pt') && (withMalicious || f !== 'malicious.pt'))
    .sort()
    .map((f) => new Uint8Array(readFileSync(path.join(FIXTURES, f))))
    .filter((bytes) => !Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes('constants.pkl'));
}

// ---------------------------------------------------------------- targets (run in children)

const BUILTIN_ERRORS = [TypeError, RangeError, ReferenceError, SyntaxError, EvalError, URIError];

/** Why a thrown value is a crash, or null when it is the expected Error for bad input. */
function crashReason(e) {
  if (!(e instanceof Error)) return `threw a non-Error: ${typeof e} ${String(e).slice(0, 200)}`;
  if (typeof e.message !== 'string' || e.message.length === 0) return `threw ${e.name} without a message`;
  if (BUILTIN_ERRORS.some((C) => e instanceof C)) return `unrecognised bad input, internal ${e.name}: ${e.message.slice(0, 300)}`;
  return null;
}

const load = (module) => import(pathToFileURL(path.join(DIST, module)).href);

/** Each target: seeds (valid files), an optional structure-aware mutation, and the run of one input. */
async function makeTarget(name) {
  const { ZipArchive } = await load('io/zip.js');
  const zipOf = await zipBuilder();
  switch (name) {
    case 'pickle': {
      const { unpickle } = await load('io/pickle.js');
      const pickles = fixtureFiles(false).map((f) => {
        const zip = new ZipArchive(f);
        return zip.read(zip.names.find((n) => n.endsWith('data.pkl')));
      });
      const hooks = {
        global: (module, qualified) => {
          if (`${module}.${qualified}` === 'collections.OrderedDict') return { qualifiedName: 'collections.OrderedDict', call: () => new Map() };
          if (module.startsWith('torch')) return { qualifiedName: `${module}.${qualified}`, call: (args) => ({ rebuilt: args.length }) };
          throw new Error(`unsupported pickle global ${module}.${qualified}`);
        },
        persistentLoad: (pid) => ({ pid }),
        build: (obj) => obj,
      };
      const malicious = new ZipArchive(readFileSync(path.join(FIXTURES, 'malicious.pt'))).read('malicious/data.pkl');
      return {
        seeds: [...pickles.map((p) => Uint8Array.from(p)), ...syntheticPickles()],
        extras: [Uint8Array.from(malicious)],
        tokens: TOKENS.pickle,
        run: (input) => countNodes(unpickle(input, hooks, 'fuzz.pkl')),
      };
    }
    case 'torch': {
      const { decodeTorchFile, disposeTorchValue } = await load('io/torchFile.js');
      const { liveTensors } = await load('tensor/index.js');
      return {
        seeds: fixtureFiles(false),
        // Odd but well-formed pickles (DAGs, cycles, protocol 0) inside torch zips reach the value walk.
        extras: [new Uint8Array(readFileSync(path.join(FIXTURES, 'malicious.pt'))), ...syntheticPickles().map((p) => zipOf([{ name: 'x/data.pkl', data: p }]))],
        tokens: TOKENS.zip,
        // Inner mutation: mutate one entry (mostly data.pkl), then re-zip with valid CRCs so it reaches the pickle and the views.
        structured: (rng, input, corpus) => repackMutated(rng, input, corpus, ZipArchive, zipOf),
        run: (input) => decodeTorchFile(input, 'fuzz.pt'),
        dispose: disposeTorchValue,
        liveTensors,
      };
    }
    case 'zip': {
      const entries = [
        { name: 'a/data.pkl', data: Buffer.from('hello zip '.repeat(40)), deflate: true },
        { name: 'a/data/0', data: Buffer.alloc(64, 7), deflate: false },
        { name: 'a/é', data: Buffer.alloc(0), deflate: true },
      ];
      return {
        seeds: [...fixtureFiles(), zipOf(entries)],
        tokens: TOKENS.zip,
        run: (input) => {
          const zip = new ZipArchive(input, 'fuzz.zip');
          let total = 0;
          for (const n of zip.names) total += zip.read(n).length;
          return total;
        },
      };
    }
    case 'safetensors': {
      const { decodeSafetensors, encodeSafetensors } = await load('io/safetensors.js');
      const { tensor, zeros, dispose, liveTensors } = await load('tensor/index.js');
      const made = [
        tensor([1, 2, 3, 4, 5, 6], [2, 3]),
        tensor([7], [1], 'int64'),
        tensor([1, 0, 1], [3], 'bool'),
        zeros([2, 0]),
        tensor(2.5, []),
        tensor([1, -2], [2], 'int16'),
      ];
      const seeds = [
        encodeSafetensors({ w: made[0], step: made[1], mask: made[2] }, { epoch: '3', note: 'héllo' }),
        encodeSafetensors({ empty: made[3], scalar: made[4], small: made[5] }),
        encodeSafetensors({}),
      ];
      dispose(made);
      return {
        seeds,
        tokens: TOKENS.safetensors,
        structured: (rng, input) => mutateSafetensorsHeader(rng, input),
        run: (input) => decodeSafetensors(input, 'fuzz.safetensors'),
        dispose: (content) => dispose([...content.tensors.values()]),
        liveTensors,
      };
    }
    case 'matlab': {
      const { parseMat } = await load('data/matlab.js');
      return {
        seeds: matFiles(),
        tokens: TOKENS.matlab,
        structured: (rng, input, corpus) => recompressMat(mutate(rng, input, corpus, TOKENS.matlab)),
        run: (input) => parseMat(input, 'fuzz.mat'),
      };
    }
    case 'idx': {
      // Byte 0 of an input says which kind to expect (odd: labels, 1 dim; even: images, 3 dims); the file follows.
      const { parseIdx } = await load('data/idx.js');
      return {
        seeds: idxFiles(),
        tokens: TOKENS.idx,
        structured: (rng, input, corpus) =>
          input.length === 0 ? input : concat(input.subarray(0, 1), gzipSync(mutate(rng, input.subarray(1), corpus, TOKENS.idx))),
        run: (input) => (input.length === 0 ? parseIdx(input, 'fuzz-empty', 1) : parseIdx(input.subarray(1), 'fuzz.idx', input[0] & 1 ? 1 : 3)),
      };
    }
    default:
      throw new Error(`unknown fuzz target '${name}' (targets: ${TARGETS.join(', ')})`);
  }
}

/** Nodes in an unpickled value, each shared object once (a DAG walk, as a safe consumer does it). */
function countNodes(root) {
  const seen = new Set();
  const stack = [root];
  let n = 0;
  while (stack.length > 0) {
    const v = stack.pop();
    n++;
    if (v === null || typeof v !== 'object' || seen.has(v)) continue;
    seen.add(v);
    if (Array.isArray(v)) stack.push(...v.slice(0, 10_000));
    else if (v instanceof Map) for (const x of v.values()) stack.push(x);
  }
  return n;
}

/** Mutates one entry of a torch zip and re-zips it with correct CRCs and sizes (plain mutation when it does not unzip). */
function repackMutated(rng, input, corpus, ZipArchive, zipOf) {
  try {
    return repack(rng, new ZipArchive(input), ZipArchive, zipOf);
  } catch {
    return mutate(rng, input, corpus);
  }
}

function repack(rng, zip, _ZipArchive, zipOf) {
  const names = zip.names;
  const pkl = names.findIndex((n) => n.endsWith('data.pkl'));
  const target = pkl >= 0 && rng.chance(0.8) ? pkl : rng.below(names.length);
  const entries = names.map((name, i) => {
    const data = zip.read(name);
    const tokens = i === pkl ? TOKENS.pickle : [];
    return { name, data: i === target ? mutate(rng, data, [data], tokens) : data, deflate: zip.entries.get(name).method === 8 };
  });
  return zipOf(entries);
}

/** Rewrites the JSON header text (numbers, dtypes, keys) and fixes its length prefix. */
function mutateSafetensorsHeader(rng, input) {
  if (input.length < 8) return input;
  const n = Number(new DataView(input.buffer, input.byteOffset, input.byteLength).getBigUint64(0, true));
  if (n > input.length - 8) return input;
  let text = Buffer.from(input.subarray(8, 8 + n)).toString('latin1');
  const numbers = [...text.matchAll(/\d+/g)];
  const edits = [
    () => {
      if (numbers.length === 0) return;
      const m = rng.pick(numbers);
      const v = rng.pick(['0', '1', '-1', '4', '8', '1.5', '1e3', '4294967296', '9007199254740993', String(Number(m[0]) + rng.pick([-1, 1, 4]))]);
      text = text.slice(0, m.index) + v + text.slice(m.index + m[0].length);
    },
    () => {
      text = text.replace(/"(F32|I64|BOOL|F64|I16|U8)"/, `"${rng.pick(['F16', 'BF16', 'I32', 'I8', 'U8', 'F64', 'BOOL', 'F8_E4M3', 'X'])}"`);
    },
    () => {
      text = text.replace('"shape":[', rng.pick(['"shape":[0,', '"shape":[-1,', '"shape":["a",', '"shape":[2,', '"shape":[1,1,']));
    },
    () => {
      text = text.replace('"data_offsets"', rng.pick(['"offsets"', '"data_offsets":[0,0],"data_offsets"']));
    },
    () => {
      text = text.replace('{"', rng.pick(['{"w":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"', '{"\\u00e9":1,"', ' {"']));
    },
    () => {
      text = text.replace('{"__metadata__":{', rng.pick(['{"__metadata__":{"n":1,', '{"__metadata__":{"__proto__":"x",', '{"__metadata__":{"k":"a","k":"b",']));
    },
  ];
  rng.pick(edits)();
  const head = Buffer.from(text, 'latin1');
  const out = new Uint8Array(8 + head.length + (input.length - 8 - n));
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  out.set(input.subarray(8 + n), 8 + head.length);
  return out;
}

/** Compresses everything after the 128-byte header into one miCOMPRESSED element. */
function recompressMat(input) {
  if (input.length <= 128) return input;
  const z = deflateSync(input.subarray(128));
  return concat(input.subarray(0, 128), u32le(15), u32le(z.length), z);
}

// ---------------------------------------------------------------- child: fuzz one target for a while

async function runWorker({ target: name, seed, seconds, caseFile, replay }) {
  const target = await makeTarget(name);
  if (replay !== undefined) return replayOne(target, readFileSync(replay));
  const rng = makeRng(seed);
  const seeds = target.seeds.map((s) => Uint8Array.from(s));
  const extras = (target.extras ?? []).map((s) => Uint8Array.from(s));
  const corpus = [...seeds, ...extras];
  const messages = new Set();
  const caseFd = openSync(caseFile, 'w');
  const stats = { runs: 0, crashes: 0 };
  const end = Date.now() + seconds * 1000;
  const beat = setInterval(() => process.send({ type: 'beat', ...stats, maxRssKiB: process.resourceUsage().maxRSS }), HEARTBEAT_MS);
  // Seeds first, as they are: a valid file must parse.
  for (const s of seeds) runCase(target, s, caseFd, stats, messages, corpus, true);
  for (const s of extras) runCase(target, s, caseFd, stats, messages, corpus, false);
  while (Date.now() < end) {
    const batchEnd = Math.min(end, Date.now() + BATCH_MS);
    while (Date.now() < batchEnd) {
      const base = rng.pick(corpus);
      const input = target.structured && rng.chance(0.5) ? target.structured(rng, base, corpus) : mutate(rng, base, corpus, target.tokens);
      runCase(target, input, caseFd, stats, messages, corpus, false);
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  clearInterval(beat);
  closeSync(caseFd);
  process.send({ type: 'done', ...stats, maxRssKiB: process.resourceUsage().maxRSS });
}

/** Runs one input; records it first (length-prefixed, in place) so a hang or a death can be reported with it. */
function runCase(target, input, caseFd, stats, messages, corpus, mustPass) {
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32LE(input.length);
  writeSync(caseFd, Buffer.concat([prefix, input]), 0, 4 + input.length, 0);
  stats.runs++;
  const live = target.liveTensors?.();
  const failure = outcome(target, input);
  if (failure.crash === undefined && live !== undefined && target.liveTensors() !== live) failure.crash = `leaked ${target.liveTensors() - live} tensors`;
  if (failure.crash === undefined && mustPass && failure.message !== undefined) failure.crash = `a valid seed file was refused: ${failure.message}`;
  if (failure.crash !== undefined) {
    stats.crashes++;
    process.send({ type: 'crash', reason: failure.crash, stack: failure.stack, input: Buffer.from(input).toString('base64') });
    return;
  }
  // A new kind of error message (numbers stripped) is a cheap sign of a new path: keep that input to mutate further.
  const kind = failure.message?.replace(/\d+/g, '#').slice(0, 200);
  if (kind !== undefined && !messages.has(kind) && corpus.length < 512) {
    messages.add(kind);
    corpus.push(input);
  }
}

/** { message } for an expected Error, { crash, stack } for anything else, {} for a clean parse. */
function outcome(target, input) {
  try {
    const value = target.run(input);
    target.dispose?.(value);
    return {};
  } catch (e) {
    const crash = crashReason(e);
    return crash === null ? { message: e.message } : { crash, stack: e instanceof Error ? e.stack : undefined };
  }
}

function replayOne(target, input) {
  const started = Date.now();
  const failure = outcome(target, input);
  process.send({ type: 'replayed', ms: Date.now() - started, crash: failure.crash });
}

// ---------------------------------------------------------------- parent: schedule, watch, record

function parseOptions() {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '60' },
      seed: { type: 'string' },
      target: { type: 'string', multiple: true },
      json: { type: 'boolean', default: false },
      out: { type: 'string' },
      workers: { type: 'string' },
      'case-ms': { type: 'string', default: '2000' },
      // Internal: run as a child.
      worker: { type: 'string' },
      'case-file': { type: 'string' },
      replay: { type: 'string' },
    },
    strict: true,
  });
  const number = (text, what, min) => {
    const v = Number(text);
    if (!Number.isFinite(v) || v < min) throw new Error(`--${what} must be a number ≥ ${min}, got '${text}'`);
    return v;
  };
  const targets = values.target ?? TARGETS;
  for (const t of targets) if (!TARGETS.includes(t)) throw new Error(`unknown --target '${t}' (targets: ${TARGETS.join(', ')})`);
  return {
    seconds: number(values.seconds, 'seconds', 0.1),
    seed: values.seed === undefined ? (Date.now() ^ (process.pid << 8)) >>> 0 : number(values.seed, 'seed', 0) >>> 0,
    targets,
    json: values.json,
    out: values.out,
    workers: values.workers === undefined ? Math.min(2, os.availableParallelism()) : Math.round(number(values.workers, 'workers', 1)),
    caseMs: number(values['case-ms'], 'case-ms', 10),
    worker: values.worker,
    caseFile: values['case-file'],
    replay: values.replay,
  };
}

/** RSS of a live process in KiB (Linux /proc), or 0 where that is not readable. */
function rssKiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function spawnChild(args) {
  return fork(fileURLToPath(import.meta.url), args, {
    execArgv: [`--max-old-space-size=${CHILD_HEAP_MIB}`],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, RANKSHIELD_THREADS: '1' },
  });
}

class Fuzzer {
  constructor(options) {
    this.options = options;
    this.outDir = options.out ?? mkdtempSync(path.join(os.tmpdir(), `rankshield-fuzz-${options.seed}-`));
    mkdirSync(this.outDir, { recursive: true });
    this.totals = Object.fromEntries(options.targets.map((t) => [t, { runs: 0, crashes: 0, hangs: 0 }]));
    this.slow = 0;
    this.peakRssKiB = 0;
    this.saved = 0;
    this.reasons = new Map();
  }

  /**
   * The plan: every target in turn, in slices of at most a minute (a fresh seed each), as many
   * rounds as fill `seconds` on every worker. Every target runs at least once, even when child
   * start-up on a busy machine eats into the budget (a late slice is shortened, not dropped).
   */
  plan() {
    const { seconds, workers, targets } = this.options;
    const rounds = Math.max(1, Math.ceil((seconds * workers) / targets.length / MAX_SLICE_S));
    const sliceSeconds = (seconds * workers) / (rounds * targets.length);
    return Array.from({ length: rounds * targets.length }, (_, i) => ({ target: targets[i % targets.length], seconds: sliceSeconds, index: i }));
  }

  async run() {
    const started = Date.now();
    const deadline = started + this.options.seconds * 1000;
    const queue = this.plan();
    const lane = async () => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        const seconds = Math.max(MIN_SLICE_S, Math.min(next.seconds, (deadline - Date.now()) / 1000));
        await this.slice(next.target, seconds, next.index);
      }
    };
    await Promise.all(Array.from({ length: this.options.workers }, lane));
    return this.summary((Date.now() - started) / 1000);
  }

  /** One child fuzzing `target` for `seconds`; restarted after a hang or a death until the time is up. */
  async slice(target, seconds, index) {
    const end = Date.now() + seconds * 1000;
    for (let restart = 0; end - Date.now() > 500; restart++) {
      const seed = mixSeed(this.options.seed, target, index, restart);
      const result = await this.watch(target, seed, (end - Date.now()) / 1000);
      if (result === 'done') return;
    }
  }

  /** Runs a child and watches its heartbeats and memory. Resolves 'done', or 'restart' after a hang/death. */
  watch(target, seed, seconds) {
    const caseFile = path.join(this.outDir, `.case-${target}-${seed}`);
    const child = spawnChild(['--worker', target, '--seed', String(seed), '--seconds', String(seconds), '--case-file', caseFile]);
    const stats = { runs: 0, crashes: 0 };
    // Loading the target (libtorch, seeds) comes before the first heartbeat: give it a grace period.
    let lastBeat = Date.now() + STARTUP_GRACE_MS;
    let stderr = '';
    let verdict;
    child.stderr.on('data', (d) => {
      stderr = (stderr + d).slice(-4000);
    });
    child.on('message', (m) => {
      lastBeat = Date.now();
      if (m.type === 'beat' || m.type === 'done') {
        stats.runs = m.runs;
        stats.crashes = m.crashes;
        this.peakRssKiB = Math.max(this.peakRssKiB, m.maxRssKiB);
      }
      if (m.type === 'crash') this.record(target, 'crash', Buffer.from(m.input, 'base64'), `${m.reason}\n${m.stack ?? ''}`);
      if (m.type === 'done') verdict = 'done';
    });
    return new Promise((resolve) => {
      const timer = setInterval(() => {
        const rss = rssKiB(child.pid);
        this.peakRssKiB = Math.max(this.peakRssKiB, rss);
        if (verdict !== undefined) return;
        if (rss > CHILD_RSS_LIMIT_MIB * 1024) verdict = 'memory';
        else if (Date.now() - lastBeat > this.options.caseMs + HEARTBEAT_MS) verdict = 'stalled';
        if (verdict !== undefined) child.kill('SIGKILL');
      }, 100);
      // 'close', not 'exit': it comes after the last IPC message (the 'done') has been delivered.
      child.on('close', async (code, signal) => {
        clearInterval(timer);
        this.totals[target].runs += stats.runs;
        this.totals[target].crashes += stats.crashes;
        if (verdict === undefined || (verdict === 'done' && code !== 0)) verdict = 'died';
        await this.afterExit(target, verdict, caseFile, `exit code ${code}, signal ${signal}\n${stderr}`);
        rmSync(caseFile, { force: true });
        progress(`[fuzz] ${target}: ${stats.runs} runs, ${stats.crashes} crashes${verdict === 'done' ? '' : ` (${verdict})`}`);
        resolve(verdict === 'done' ? 'done' : 'restart');
      });
    });
  }

  async afterExit(target, verdict, caseFile, detail) {
    if (verdict === 'done') return;
    const input = readCase(caseFile);
    if (verdict === 'memory' || verdict === 'died') {
      this.totals[target].crashes++;
      this.record(target, verdict, input, detail);
      return;
    }
    // Stalled: confirm by replaying the input alone, so a busy machine is not reported as a hang.
    const replay = await this.replay(target, input);
    if (replay === 'hang') {
      this.totals[target].hangs++;
      this.record(target, 'hang', input, `no progress for ${this.options.caseMs} ms, and again when replayed alone`);
    } else {
      this.slow++;
      progress(`[fuzz] ${target}: a stall did not reproduce alone (${replay}); not counted as a hang`);
    }
  }

  /** Runs one input in a fresh child: 'hang' when it does not finish within the case limit. */
  replay(target, input) {
    const file = path.join(this.outDir, `.replay-${target}`);
    writeFileSync(file, input);
    const child = spawnChild(['--worker', target, '--replay', file, '--case-file', file]);
    return new Promise((resolve) => {
      let answer = 'hang';
      // Startup (libtorch) is not part of the case: allow it on top of the case limit.
      const timer = setTimeout(() => child.kill('SIGKILL'), this.options.caseMs + 10_000);
      child.on('message', (m) => {
        if (m.type === 'replayed') answer = m.ms > this.options.caseMs ? 'hang' : `${m.ms} ms`;
      });
      child.on('close', () => {
        clearTimeout(timer);
        rmSync(file, { force: true });
        resolve(answer);
      });
    });
  }

  record(target, kind, input, detail) {
    const reason = `${target}/${kind}/${detail.split('\n')[0].replace(/\d+/g, '#')}`;
    const seen = (this.reasons.get(reason) ?? 0) + 1;
    this.reasons.set(reason, seen);
    if (seen > SAVED_PER_REASON) return;
    const base = path.join(this.outDir, `${target}-${kind}-${++this.saved}`);
    writeFileSync(`${base}.bin`, input);
    writeFileSync(`${base}.txt`, `${detail}\n`);
    progress(`[fuzz] ${target}: ${kind} recorded in ${base}.bin — ${detail.split('\n')[0]}`);
  }

  /** The output folder when it holds recorded inputs; a folder made here and left empty is removed. */
  keptOutDir() {
    if (this.saved > 0 || this.options.out !== undefined) return this.outDir;
    rmSync(this.outDir, { recursive: true, force: true });
    return null;
  }

  summary(seconds) {
    const values = Object.values(this.totals);
    const sum = (key) => values.reduce((n, t) => n + t[key], 0);
    this.peakRssKiB = Math.max(this.peakRssKiB, process.resourceUsage().maxRSS);
    return {
      runs: sum('runs'),
      crashes: sum('crashes'),
      hangs: sum('hangs'),
      peakRssMiB: Math.round(this.peakRssKiB / 1024),
      seconds: Math.round(seconds * 10) / 10,
      seed: this.options.seed,
      targets: this.totals,
      stallsNotReproduced: this.slow,
      outDir: this.keptOutDir(),
    };
  }
}

function readCase(file) {
  try {
    const b = readFileSync(file);
    const n = b.readUInt32LE(0);
    return b.subarray(4, 4 + n);
  } catch {
    return Buffer.alloc(0);
  }
}

function progress(line) {
  process.stderr.write(`${line}\n`);
}

async function main() {
  const options = parseOptions();
  if (options.worker !== undefined) {
    await runWorker({ target: options.worker, seed: options.seed, seconds: options.seconds, caseFile: options.caseFile, replay: options.replay });
    process.disconnect?.();
    return;
  }
  const fuzzer = new Fuzzer(options);
  progress(`[fuzz] seed ${options.seed}, ${options.seconds} s, targets ${options.targets.join(', ')}, ${options.workers} worker(s), out ${fuzzer.outDir}`);
  const result = await fuzzer.run();
  progress(
    `[fuzz] ${result.runs} runs, ${result.crashes} crashes, ${result.hangs} hangs, peak RSS ${result.peakRssMiB} MiB${result.outDir === null ? '' : `; inputs in ${result.outDir}`}`,
  );
  if (options.json) console.log(JSON.stringify(result));
  else console.log(`runs ${result.runs}, crashes ${result.crashes}, hangs ${result.hangs}, peak RSS ${result.peakRssMiB} MiB, seed ${result.seed}`);
  process.exitCode = result.crashes + result.hangs > 0 ? 1 : 0;
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(2);
});
