// Layer: cli. `rankshield import robrank FILE.ckpt --out DIR`: a RobRank
// (PyTorch Lightning) checkpoint becomes a rankshield run directory, so
// RobRank's published models are evaluated and attacked as they are.
//
// The file is read by our strict torch.save reader (tensor-rebuilding globals
// and data-only dicts only; any other global is an error naming it). The config
// is RobRank's `dataset:model:loss`: dataset and loss from the checkpoint's
// hyper-parameters where present, the rest from --config or from RobRank's log
// directory name (logs_<dataset>-<model>-<loss>) in the file's path, the
// backbone checked against the tensors. The run directory is committed by
// saveCheckpoint like any training checkpoint (fresh Adam state: RobRank's
// optimizer state is not carried over; the weights are).
import path from 'node:path';
import { Tensor } from '../tensor/index.js';
import { Adam } from '../optim/index.js';
import { disposeTorchValue, loadTorchFile, type TorchValue } from '../io/torchFile.js';
import { fromRobrankStateDict, robrankBackbone, type RobrankBackbone } from '../models/robrank.js';
import { modelEntry } from '../models/catalogue.js';
import { createModel } from '../run/model-factory.js';
import { saveCheckpoint } from '../run/commit.js';
import type { CheckpointInfo } from '../run/checkpoint.js';
import { parseShorthand, type ExperimentConfig } from '../run/config.js';
import { RunDirectory } from '../run/run-dir.js';
import { UsageError, type Command } from './command.js';
import { flagBool, flagString, parseOptions, usageText, type OptionSection } from './args.js';

const SECTIONS: readonly OptionSection[] = [
  {
    options: {
      config: {
        kind: 'string',
        value: 'DATASET:MODEL:LOSS',
        help: "RobRank's shorthand, e.g. fashion:rc2f2p:ptripletN. The checkpoint's hyper-parameters\n(dataset, loss) take precedence where present; without --config the model name comes\nfrom RobRank's log directory (logs_<dataset>-<model>-<loss>) in FILE's path, else the\nbackbone found in the tensors with no defense",
      },
      out: { kind: 'string', value: 'DIR', help: 'the run directory to write (eval, swipe and attack take it as CKPT); required' },
      overwrite: { kind: 'boolean', help: 'replace a run already in --out' },
      json: { kind: 'boolean', help: 'print {out, config, epoch} as one JSON line' },
    },
  },
];

export const importCommand: Command = {
  name: 'import',
  summary: 'turn a RobRank (PyTorch Lightning) checkpoint into a rankshield run directory',
  usage: usageText(
    ['rankshield import robrank FILE.ckpt --out DIR [options]'],
    `FILE.ckpt is a checkpoint RobRank's training wrote (PyTorch Lightning, torch.save zip format);
its tensors are backbone.* (c2f2: an nn.Sequential; rres18/rres50: torchvision's ResNet).`,
    SECTIONS,
    `The reader accepts only tensor-rebuilding globals and data-only dicts; any other global is an error
naming it. Legacy (non-zip) torch.save files are refused with an error that says so.`,
  ),
  options: SECTIONS[0]!.options,
  async run(argv) {
    const p = parseOptions(argv, SECTIONS[0]!.options);
    const [kind, file, ...rest] = p.positionals;
    if (kind !== 'robrank') throw new UsageError(`expected 'import robrank FILE.ckpt' (the only format), got '${kind ?? ''}'`);
    if (file === undefined || rest.length > 0) throw new UsageError('expected exactly one checkpoint file');
    const out = flagString(p, 'out');
    if (out === undefined) throw new UsageError('--out DIR is required');
    const info = importRobrank(file, out, { config: flagString(p, 'config'), overwrite: flagBool(p, 'overwrite') });
    const c = info.config;
    if (flagBool(p, 'json')) console.log(JSON.stringify({ out, config: c, epoch: info.epoch }));
    else
      console.log(
        `imported ${file} → ${out}: ${c.dataset} ${c.model}, ${c.loss} ${c.miner} ${c.metric}, defense ${c.defense.kind}, ${c.epochs} epochs (last trained epoch ${info.epoch + 1})`,
      );
    return 0;
  },
};

/** Options of `importRobrank`. */
export interface ImportOptions {
  /** RobRank shorthand for what the checkpoint does not say. */
  config?: string;
  overwrite?: boolean;
}

/** Reads a RobRank checkpoint and commits it as a rankshield run in `out`; returns what checkpoint.json says. */
export function importRobrank(file: string, out: string, o: ImportOptions = {}): CheckpointInfo {
  const value = loadTorchFile(file);
  try {
    if (!(value instanceof Map)) throw new Error(`${file}: not a Lightning checkpoint (the top level is not a dict)`);
    const sd = value.get('state_dict');
    if (!(sd instanceof Map)) throw new Error(`${file}: no state_dict in the checkpoint (top level: ${[...value.keys()].join(', ')})`);
    const tensors = new Map<string, Tensor>();
    for (const [k, v] of sd) if (v instanceof Tensor) tensors.set(String(k), v);
    const backbone = robrankBackbone(tensors.keys());
    if (backbone === null)
      throw new Error(`${file}: no RobRank c2f2 or ResNet backbone in its state_dict (names: ${[...tensors.keys()].slice(0, 5).join(', ')}, …)`);
    const config = robrankConfig(file, value.get('hyper_parameters'), backbone, o.config);
    const mapped = fromRobrankStateDict(tensors, backbone).tensors;
    const model = createModel(config);
    const opt = new Adam(model.parameters(), { lr: config.lr, weightDecay: config.weightDecay });
    try {
      model.loadStateDict(mapped);
      // Lightning's `epoch` is the 0-based epoch being trained when it saved (the last one, at the end).
      const last = Math.min(numberIn(value.get('epoch')) ?? config.epochs - 1, config.epochs - 1);
      const run = RunDirectory.open(out, o.overwrite ? 'overwrite' : 'new');
      try {
        return saveCheckpoint(run.dir, model, opt, {
          config,
          epoch: last,
          position: { epoch: last + 1, step: 0 },
          pendingEval: false,
          metrics: {},
          defenseState: {},
          rngState: null,
          epochProgress: null,
          logBytes: 0,
        });
      } finally {
        run.close();
      }
    } finally {
      opt.dispose();
      model.dispose();
    }
  } finally {
    disposeTorchValue(value);
  }
}

/** RobRank's log directory name, `logs_<dataset>-<model>-<loss>`, somewhere in a checkpoint's path. */
const LOG_DIR = /(?:^|[/\\])logs_([a-z0-9]+)-([a-z0-9]+)-(p[a-z]+[NEC])(?:[/\\]|$)/;

/** The experiment a RobRank checkpoint was trained with (see the module comment for the precedence). */
export function robrankConfig(file: string, hyperParameters: TorchValue | undefined, backbone: RobrankBackbone, given?: string): ExperimentConfig {
  const hp = (k: string): string | undefined => {
    const v = hyperParameters instanceof Map ? hyperParameters.get(k) : undefined;
    return typeof v === 'string' ? v : undefined;
  };
  let parts: (string | undefined)[] = [undefined, undefined, undefined];
  if (given !== undefined) {
    parts = given.split(':');
    if (parts.length !== 3) throw new UsageError(`--config must be dataset:model:loss (e.g. fashion:rc2f2p:ptripletN), got '${given}'`);
  } else {
    const m = LOG_DIR.exec(path.resolve(file));
    if (m !== null) parts = [m[1], m[2], m[3]];
  }
  const dataset = hp('dataset') ?? parts[0];
  const loss = hp('loss') ?? parts[2];
  const model = parts[1] ?? modelEntry(backbone).robrankCode;
  if (dataset === undefined || loss === undefined) {
    throw new UsageError(
      `${file} does not say its ${dataset === undefined ? 'dataset' : 'loss'}: give --config DATASET:MODEL:LOSS (e.g. fashion:rc2f2p:ptripletN)`,
    );
  }
  const shorthand = `${dataset}:${model}:${loss}`;
  let config: ExperimentConfig;
  try {
    config = parseShorthand(shorthand);
  } catch (e) {
    throw new UsageError(`${shorthand}: ${(e as Error).message}`);
  }
  if (config.model !== backbone) throw new Error(`${file}: its tensors are a ${backbone}, but ${shorthand} names a ${config.model}`);
  return config;
}

function numberIn(v: TorchValue | undefined): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined;
}
