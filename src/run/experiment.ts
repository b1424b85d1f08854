// Layer: run. How an experiment is assembled from what a user says: a base
// (a config file, RobRank's shorthand or a dataset's defaults), then each
// change given, under the experiment's rules (switching the loss resets its
// form, hyper-parameters and, for a loss that mines for itself, the miner; the
// margin follows the loss, metric and form unless given; a defense that fixes
// the margin applies it when chosen). The result is resolved (resolveConfig),
// so every combination is checked before any data is read. `rankshield train`
// parses its flags into these shapes and calls here.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFENSES, type DefenseConfig } from '../defense/registry.js';
import { defaultLossMargin, lossEntry, lossFlags, lossFormOf, LOSS_FORM_FLAG } from '../metric/losses.js';
import { parseMetric } from '../metric/metric.js';
import { parseMinerName } from '../metric/miners.js';
import { modelEntry, type ModelKind } from '../models/catalogue.js';
import { defaultConfig, parseConfig, parseRecordedConfig, parseShorthand, resolveConfig, type ExperimentConfig } from './config.js';
import { fashionEntry } from '../data/fashion.js';

/** The dataset an experiment uses when none is named. */
export const DEFAULT_DATASET = fashionEntry.name;

/** `--pretrained none`: a ResNet from random weights, chosen knowingly. */
export const PRETRAINED_NONE = 'none';

/** Where an experiment starts: at most one of a config file, a shorthand and a dataset (none: the default dataset). */
export interface ExperimentBase {
  /** A JSON file holding an ExperimentConfig, or the checkpoint.json of an earlier run (which reruns it). */
  readonly file?: string | undefined;
  /** RobRank's `dataset:model:loss`. */
  readonly shorthand?: string | undefined;
  readonly dataset?: string | undefined;
}

/** What a user changes in the base, each field as given (names in any accepted spelling); absent or undefined = kept. */
export interface ExperimentChanges {
  readonly metric?: string | undefined;
  readonly loss?: string | undefined;
  readonly lossForm?: string | undefined;
  readonly miner?: string | undefined;
  /** Loss hyper-parameters by their flag (`snr-lambda`: 0.01), each checked against the loss and its form. */
  readonly lossFlags?: Readonly<Record<string, number>> | undefined;
  readonly margin?: number | undefined;
  readonly root?: string | undefined;
  readonly model?: string | undefined;
  /** A TorchScript module to fine-tune: replaces the model (and excludes `model` and `pretrained`). */
  readonly modelFile?: string | undefined;
  /** ImageNet weights, or PRETRAINED_NONE to train a ResNet from random weights on purpose. */
  readonly pretrained?: string | undefined;
  /** The defense as its flags made it (the base's kept when absent). */
  readonly defense?: DefenseConfig | undefined;
  readonly epochs?: number | undefined;
  readonly batchPairs?: number | undefined;
  readonly lr?: number | undefined;
  readonly weightDecay?: number | undefined;
  readonly seed?: number | undefined;
  readonly evalEvery?: number | undefined;
  readonly maxBatches?: number | undefined;
  readonly shards?: number | undefined;
}

/** The base config of an experiment (not yet resolved); throws when more than one base is given. */
export function experimentBase(b: ExperimentBase): ExperimentConfig {
  if ([b.file, b.shorthand, b.dataset].filter((x) => x !== undefined).length > 1)
    throw new Error('give the experiment one way: --config FILE, a SHORTHAND or --dataset');
  if (b.file !== undefined) return readConfigFile(b.file);
  if (b.shorthand !== undefined) return parseShorthand(b.shorthand);
  return defaultConfig(b.dataset ?? DEFAULT_DATASET);
}

/** An ExperimentConfig from a JSON file: the config itself, or a checkpoint.json holding one under "config". */
export function readConfigFile(file: string): ExperimentConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`--config ${file}: ${(e as Error).message}`);
  }
  const recorded = typeof raw === 'object' && raw !== null && 'format' in raw && 'config' in raw;
  return recorded ? parseRecordedConfig((raw as { config: unknown }).config, `--config ${file}`) : parseConfig(raw, `--config ${file}`);
}

/** The base with every change applied under the experiment's rules, resolved; throws naming the first problem. */
export function applyChanges(base: ExperimentConfig, ch: ExperimentChanges): ExperimentConfig {
  const c: ExperimentConfig = { ...base };
  applyLossChanges(c, ch);
  if (ch.root !== undefined) c.root = ch.root;
  applyModelChanges(c, ch);
  const kindBefore = c.defense.kind;
  if (ch.defense !== undefined) c.defense = ch.defense;
  // A defense that fixes the run's default margin (CA-TRIDE's 0.2) applies it when chosen here, or when the
  // loss or metric given here reset the margin; `margin` still wins.
  const fixedMargin = DEFENSES[c.defense.kind].defaultMargin;
  if (fixedMargin !== undefined && (c.defense.kind !== kindBefore || ch.loss !== undefined || ch.metric !== undefined)) c.margin = fixedMargin;
  c.margin = ch.margin ?? c.margin;
  c.epochs = ch.epochs ?? c.epochs;
  c.batchPairs = ch.batchPairs ?? c.batchPairs;
  c.lr = ch.lr ?? c.lr;
  c.weightDecay = ch.weightDecay ?? c.weightDecay;
  c.seed = ch.seed ?? c.seed;
  c.evalEvery = ch.evalEvery ?? c.evalEvery;
  c.maxBatches = ch.maxBatches ?? c.maxBatches;
  if (ch.shards !== undefined) c.shards = ch.shards;
  return resolveConfig(c);
}

/** Metric, loss, form, miner, the loss's hyper-parameters and the margin's default, in that order. */
function applyLossChanges(c: ExperimentConfig, ch: ExperimentChanges): void {
  if (ch.metric !== undefined || ch.loss !== undefined || ch.lossForm !== undefined) {
    if (ch.metric !== undefined) c.metric = parseMetric(ch.metric);
    if (ch.loss !== undefined && ch.loss !== c.loss) {
      const e = lossEntry(ch.loss);
      c.loss = e.name;
      // Another loss: the old one's form and hyper-parameters do not carry over.
      delete c.lossParams;
      delete c.lossForm;
      // A loss that mines for itself, or always with one miner, sets the miner.
      if (e.input === 'batch' || e.miner !== undefined) c.miner = e.miner ?? 'random';
    }
    if (ch.lossForm !== undefined && ch.lossForm !== c.lossForm) {
      // Checked here so that the error names the loss's forms; the form's own hyper-parameters are its defaults.
      lossFormOf(c.loss, ch.lossForm);
      c.lossForm = ch.lossForm;
      delete c.lossParams;
    }
    // The margin follows the loss, metric and form (SNR's published form has its own); `margin` still wins.
    c.margin = defaultLossMargin(c.loss, c.metric, c.lossForm);
  }
  if (ch.miner !== undefined) c.miner = parseMinerName(ch.miner);
  const entry = lossEntry(c.loss);
  const flags = lossFlags();
  for (const [flag, v] of Object.entries(ch.lossFlags ?? {})) {
    const owners = flags.find((f) => f.flag === flag)?.losses ?? [];
    const h = entry.hypers.find((x) => x.flag === flag);
    if (h === undefined) throw new Error(`--${flag} belongs to --loss ${owners.join(' or ') || '(none)'}, not ${c.loss}`);
    const formNow = lossFormOf(c.loss, c.lossForm);
    if (h.forms !== undefined && !h.forms.includes(formNow))
      throw new Error(`--${flag} belongs to loss ${c.loss}'s form ${h.forms.join(' or ')}, not ${formNow} (--${LOSS_FORM_FLAG})`);
    c.lossParams = { ...c.lossParams, [h.name]: v };
  }
  if (ch.margin !== undefined && entry.margin === undefined) throw new Error(`loss ${c.loss} has no margin: --margin does not apply`);
}

/** Model, TorchScript file and ImageNet weights. */
function applyModelChanges(c: ExperimentConfig, ch: ExperimentChanges): void {
  if (ch.model !== undefined) c.model = modelName(ch.model);
  if (ch.modelFile !== undefined) {
    if (ch.model !== undefined || ch.pretrained !== undefined) throw new Error('--model-file replaces --model and --pretrained');
    c.model = 'torchscript';
    c.modelFile = ch.modelFile;
  }
  if (ch.pretrained !== undefined && ch.pretrained !== PRETRAINED_NONE) c.pretrained = ch.pretrained;
}

/** A model name of the catalogue; throws listing the known ones. */
function modelName(name: string): ModelKind {
  return modelEntry(name).name;
}

/** The directory a run gets when none is named: runs/<dataset>-<model>-<loss>-<miner><metric>-s<seed>. */
export function defaultRunDir(c: ExperimentConfig): string {
  return path.join('runs', `${c.dataset.replace(/[:/]+/g, '_')}-${c.model}-${c.loss}-${c.miner}${c.metric}-s${c.seed}`);
}

/**
 * Whether a run starts a model that takes ImageNet weights from random ones
 * (no `pretrained`, and not PRETRAINED_NONE on purpose): every published
 * photo-dataset number starts from those weights.
 */
export function startsFromRandomWeights(c: ExperimentConfig, pretrained?: string): boolean {
  return c.pretrained === undefined && pretrained !== PRETRAINED_NONE && modelEntry(c.model).takesPretrained;
}
