// Layer: run. An experiment as a typed object, its per-dataset defaults
// (docs/methods.md §3) and RobRank's `dataset:model:loss` shorthand.
import path from 'node:path';
import { z } from 'zod';
import { parseMetric, METRIC_NAMES, type MetricName } from '../metric/metric.js';
import {
  defaultLossMargin,
  defaultLossParams,
  formHypers,
  LOSSES,
  LOSS_FORM_FLAG,
  LOSS_NAMES,
  lossEntry,
  lossFormOf,
  requireLossMetric,
  type LossEntry,
  type LossKind,
} from '../metric/losses.js';
import { MINERS, MINER_NAMES, type MinerName } from '../metric/miners.js';
import { defaultModelFor, MODELS, MODEL_NAMES, modelEntry, type ModelKind } from '../models/catalogue.js';
import { canonicalDatasetName, parseDatasetName, type DatasetEntry } from '../data/registry.js';
import { imageScale, type ImageScale } from '../data/image-size.js';
import {
  defenseConfigSchema,
  defenseFromModelSuffix,
  defenseOfShorthand,
  modelSuffix,
  defenseRefusal,
  DEFENSES,
  ICS_WEIGHT,
  resolveDefense,
  SUFFIX_GRAMMAR,
  type DefenseConfig,
} from '../defense/registry.js';
export type { MinerName, ModelKind, LossKind };
export { defaultLossMargin };

/**
 * The defense field's schema. The defense catalogue's entries type their
 * schemas loosely (`z.ZodObject`), so what it infers is a plain record; its
 * `DefenseConfig` union names the same shapes. This one bridge goes away when
 * the defense catalogue infers `DefenseConfig` from its schemas.
 */
const defenseField = defenseConfigSchema as unknown as z.ZodType<DefenseConfig>;

/**
 * One experiment as plain data (stored in every checkpoint): dataset, model,
 * loss, miner, defense, optimizer, epochs. The schema is the one statement of
 * its fields: `ExperimentConfig` is inferred from it, and a config read from
 * JSON is checked by it (types here; ranges and combinations by validateConfig).
 */
export const experimentConfigSchema = z
  .object({
    /** Dataset name as `openDataset` accepts it (fashion, mnist, …); resolved configs hold the canonical name. */
    dataset: z.string().min(1),
    /** The dataset's folder (cub, cars, sop; IDX files for mnist/fashion); absent = the default places. */
    root: z.string().min(1).optional(),
    model: z.enum(MODEL_NAMES),
    metric: z.enum(METRIC_NAMES),
    loss: z.enum(LOSS_NAMES),
    miner: z.enum(MINER_NAMES),
    /** Loss margin: the loss entry's default for the metric (triplet γ 0.2 for N/C and 1.0 for E, contrastive 1.0, …); 0 for a loss without one. */
    margin: z.number(),
    /**
     * The loss's form (`--loss-form`: published or RobRank's) for a loss that
     * has forms (losses.ts); absent = the entry's default. A resolved config
     * names it; RobRank's shorthand sets RobRank's.
     */
    lossForm: z.string().optional(),
    /** The loss's other hyper-parameters by name (losses.ts), those of its form; a resolved config holds every one. */
    lossParams: z.record(z.string(), z.number()).optional(),
    /** Code epochs over SPC-2 pairs (RobRank halves the paper's epochs, docs/methods.md §2). */
    epochs: z.number(),
    batchPairs: z.number(),
    lr: z.number(),
    weightDecay: z.number(),
    seed: z.number(),
    /** Evaluate every N epochs (and always after the last). */
    evalEvery: z.number(),
    /** Limit training batches per epoch (quick runs and tests); 0 = whole epoch. */
    maxBatches: z.number(),
    /** The training-step strategy (adversarial training); { kind: 'none' } = regular training. */
    defense: defenseField,
    /** ImageNet weights for ResNets: a torchvision .pth or a safetensors file (nothing is downloaded). */
    pretrained: z.string().optional(),
    /** model 'torchscript': the TorchScript file (absolute path) whose parameters are trained; the checkpoint holds the weights. */
    modelFile: z.string().min(1).optional(),
    /**
     * Data parallelism: each global batch is cut into this many shards whose
     * losses are weighted by size (train/data-parallel.ts); any number of
     * processes dividing it gives the same numbers. Absent = 1 (the whole batch).
     */
    shards: z.number().optional(),
  })
  .strict();

/** One experiment as plain data, as its schema states it. */
export type ExperimentConfig = z.infer<typeof experimentConfigSchema>;

/** Training hyper-parameters by image size (docs/methods.md §3): the 28×28 column (c2f2) and the 224×224 column (ResNet-18). */
export const TRAINING_DEFAULTS: Readonly<Record<ImageScale, Pick<ExperimentConfig, 'epochs' | 'batchPairs' | 'lr' | 'weightDecay' | 'evalEvery'>>> = {
  small: { epochs: 8, batchPairs: 128, lr: 1e-3, weightDecay: 1e-7, evalEvery: 1 },
  // RD's text says 1e-3; the code that produced the published numbers uses 1e-5 (docs/methods.md §3).
  large: { epochs: 75, batchPairs: 56, lr: 1e-5, weightDecay: 4e-4, evalEvery: 5 },
};

/** The default experiment for a dataset: its image size's column, regular training with a random miner, metric N. */
export function defaultConfig(dataset: string): ExperimentConfig {
  const entry = parseDatasetName(dataset).entry;
  const loss = LOSSES[0]!;
  const metric: MetricName = 'N';
  return {
    dataset: canonicalDatasetName(dataset),
    model: defaultModelFor(entry.imageSide),
    metric,
    loss: loss.name,
    miner: MINER_NAMES[0]!,
    margin: defaultLossMargin(loss.name, metric),
    ...TRAINING_DEFAULTS[imageScale(entry.imageSide)],
    seed: 0,
    maxBatches: 0,
    defense: { kind: 'none' },
  };
}

/**
 * RobRank's `dataset:model:loss` (e.g. `fashion:rc2f2p:ptripletN`): the model
 * name is a backbone plus a defense suffix (docs/methods.md §9), the loss is
 * `p` + a miner's code + a loss word + the metric (`pmtripletN`, `pdcontrastE`);
 * `rres18p:pgtripletN` is CA-TRIDE. Backbones, codes and words come from the catalogues.
 */
export function parseShorthand(s: string): ExperimentConfig {
  const parts = s.split(':');
  if (parts.length !== 3) throw new Error(`expected dataset:model:loss (e.g. fashion:rc2f2:ptripletN), got '${s}'`);
  const [dataset, model, loss] = parts as [string, string, string];
  const base = defaultConfig(dataset);
  const paper = parseDatasetName(dataset).entry.paper;
  const backbone = MODELS.find((m) => m.robrankCode !== undefined && model.startsWith(m.robrankCode));
  const suffixDefense = backbone ? defenseFromModelSuffix(model.slice(backbone.robrankCode!.length), paper.icsWeight ?? ICS_WEIGHT) : null;
  if (backbone === undefined || suffixDefense === null) {
    const codes = MODELS.flatMap((m) => (m.robrankCode === undefined ? [] : [m.robrankCode]));
    throw new Error(`model '${model}' is not supported (backbones ${codes.join(', ')}; suffixes ${SUFFIX_GRAMMAR})`);
  }
  const parsed = parseLossName(loss);
  if (parsed === null) {
    const known = (LOSSES as readonly LossEntry[]).flatMap((l) =>
      l.robrankWords.flatMap((w) =>
        (l.input === 'batch' || l.miner !== undefined ? [`p${w}`] : MINERS.map((m) => `p${m.lossCode}${w}`)).map((n) => `${n}{${l.metrics.join(',')}}`),
      ),
    );
    throw new Error(`loss '${loss}' is not supported (supported: ${known.join(', ')})`);
  }
  const { lossKind, miner, metric } = parsed;
  const defense = defenseOfShorthand(suffixDefense, miner);
  // RobRank's loss names name RobRank's form of a loss that has several.
  const form = lossEntry(lossKind).forms?.robrank;
  const margin = DEFENSES[defense.kind].defaultMargin ?? defaultLossMargin(lossKind, metric, form);
  return validateConfig({ ...base, model: backbone.name, metric, loss: lossKind, ...(form !== undefined ? { lossForm: form } : {}), miner, margin, defense });
}

/**
 * The RobRank shorthand of a config (`fashion:rc2f2p:psnrN`), printed from the
 * model, defense and loss entries; null when RobRank has no name for it (a
 * model without a backbone code, a defense setting its suffix cannot say, a
 * loss form other than RobRank's). Budgets and other flags are not part of a shorthand.
 */
export function shorthandOf(c: ExperimentConfig): string | null {
  const code = modelEntry(c.model).robrankCode;
  const suffix = modelSuffix(c.defense);
  if (code === undefined || suffix === null) return null;
  const loss = lossEntry(c.loss);
  if (loss.forms !== undefined && lossFormOf(c.loss, c.lossForm) !== loss.forms.robrank) return null;
  const miner = loss.input === 'batch' || loss.miner !== undefined ? '' : MINERS.find((m) => m.name === c.miner)!.lossCode;
  return `${c.dataset}:${code}${suffix}:p${miner}${loss.robrankWords[0]!}${c.metric}`;
}

/** `p` + miner code + loss word + metric letter → its parts; null when it is not such a name. */
function parseLossName(s: string): { lossKind: LossKind; miner: MinerName; metric: MetricName } | null {
  const m = /^p([A-Za-z]*)([NEC])$/.exec(s);
  if (m === null) return null;
  for (const l of LOSSES as readonly LossEntry[]) {
    for (const word of l.robrankWords) {
      // A loss that mines for itself, or always with one miner, has no miner code (pmsN, pDtripletN).
      if (l.input === 'batch' || l.miner !== undefined) {
        if (m[1] === word) return { lossKind: l.name as LossKind, miner: l.miner ?? MINER_NAMES[0]!, metric: parseMetric(m[2]!) };
        continue;
      }
      for (const miner of MINERS) {
        if (m[1] === `${miner.lossCode}${word}`) return { lossKind: l.name as LossKind, miner: miner.name, metric: parseMetric(m[2]!) };
      }
    }
  }
  return null;
}

/** One line per problem, each naming the field (`config.defense.steps: …`). */
export function describeSchemaErrors(prefix: string, error: z.ZodError): string {
  return error.issues.map((i) => `${[prefix, ...i.path.map(String)].filter((s) => s !== '').join('.')}: ${i.message}`).join('; ');
}

/** An ExperimentConfig from untrusted JSON: types by the schema, then validateConfig's ranges. */
export function parseConfig(raw: unknown, where = 'config'): ExperimentConfig {
  const r = experimentConfigSchema.safeParse(raw);
  if (!r.success) throw new Error(describeSchemaErrors(where, r.error));
  return validateConfig(r.data);
}

/** The config a run recorded (a checkpoint's), from its JSON: parseConfig, with recordedConfig's rule for runs from before loss forms. */
export function parseRecordedConfig(raw: unknown, where = 'config'): ExperimentConfig {
  const r = experimentConfigSchema.safeParse(raw);
  if (!r.success) throw new Error(describeSchemaErrors(where, r.error));
  return validateConfig(recordedConfig(r.data));
}

/** Checks ranges; returns the config for chaining. */
export function validateConfig(c: ExperimentConfig): ExperimentConfig {
  const positiveInt = (v: number, name: string): void => {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
  };
  positiveInt(c.epochs, 'epochs');
  positiveInt(c.batchPairs, 'batch size');
  positiveInt(c.evalEvery, 'eval-every');
  if (!Number.isInteger(c.maxBatches) || c.maxBatches < 0) throw new Error(`max-batches must be >= 0, got ${c.maxBatches}`);
  if (!(c.lr > 0 && Number.isFinite(c.lr))) throw new Error(`learning rate must be > 0, got ${c.lr}`);
  if (!(c.weightDecay >= 0)) throw new Error(`weight decay must be >= 0, got ${c.weightDecay}`);
  if (!(c.margin >= 0 && Number.isFinite(c.margin))) throw new Error(`margin must be >= 0, got ${c.margin}`);
  if (!Number.isInteger(c.seed) || c.seed < 0) throw new Error(`seed must be a non-negative integer, got ${c.seed}`);
  if (c.shards !== undefined && (!Number.isInteger(c.shards) || c.shards < 1 || c.shards > c.batchPairs)) {
    throw new Error(`shards must be an integer in [1, batch size ${c.batchPairs}], got ${c.shards}`);
  }
  checkLoss(c);
  if ((c.model === 'torchscript') !== (c.modelFile !== undefined))
    throw new Error(`model torchscript and modelFile go together (model ${c.model}, modelFile ${c.modelFile ?? 'none'})`);
  const dataset = parseDatasetName(c.dataset).entry;
  const model = modelEntry(c.model);
  if (model.imageSide !== undefined && model.imageSide !== dataset.imageSide) {
    const fits = MODELS.filter((m) => m.imageSide === dataset.imageSide).map((m) => m.name);
    throw new Error(
      `model ${c.model} does not fit dataset ${c.dataset} (its images are ${dataset.imageSide}×${dataset.imageSide}; models for them: ${fits.join(', ')})`,
    );
  }
  if (c.pretrained !== undefined && !model.takesPretrained)
    throw new Error(
      `--pretrained applies to ${MODELS.filter((m) => m.takesPretrained)
        .map((m) => m.name)
        .join(' and ')} only, not ${c.model}`,
    );
  return c;
}

/** The loss's rules: its metrics, its miner, its margin and hyper-parameters (names and ranges), its learnable scalars. */
function checkLoss(c: ExperimentConfig): void {
  const loss = lossEntry(c.loss);
  requireLossMetric(loss, c.metric);
  if (loss.input === 'batch' && c.miner !== MINER_NAMES[0])
    throw new Error(`loss ${loss.name} forms its own pairs from the whole batch; a miner (${c.miner}) does not apply`);
  if (loss.miner !== undefined && c.miner !== loss.miner) throw new Error(`loss ${loss.name} always mines with the ${loss.miner} miner, not ${c.miner}`);
  if (loss.margin === undefined && c.margin !== 0) throw new Error(`loss ${loss.name} has no margin (got margin ${c.margin})`);
  let form: string;
  try {
    form = lossFormOf(loss.name, c.lossForm);
  } catch (e) {
    throw new Error(`lossForm (--${LOSS_FORM_FLAG}): ${(e as Error).message}`);
  }
  const hypers = formHypers(loss, form);
  for (const [name, v] of Object.entries(c.lossParams ?? {})) {
    const h = hypers.find((x) => x.name === name);
    if (h === undefined) {
      const other = loss.hypers.find((x) => x.name === name);
      if (other !== undefined)
        throw new Error(`lossParams.${name} (--${other.flag}): loss ${loss.name} has it in form ${other.forms!.join(', ')} only, not in form ${form}`);
      throw new Error(`lossParams.${name}: loss ${loss.name} has no such hyper-parameter (it has ${hypers.map((x) => x.name).join(', ') || 'none'})`);
    }
    const ok = Number.isFinite(v) && (h.min === undefined || v >= h.min) && (h.above === undefined || v > h.above) && (h.max === undefined || v <= h.max);
    if (!ok) throw new Error(`lossParams.${name} (--${h.flag}) is out of range: ${v}`);
  }
  if ((loss.learnable?.length ?? 0) > 0 && (c.shards ?? 1) > 1)
    throw new Error(
      `loss ${loss.name} learns ${loss.learnable!.map((l) => l.name).join(', ')} beside the model; data-parallel shards do not reduce its gradient yet`,
    );
}

/**
 * A config as a run recorded it (a checkpoint's, or a checkpoint.json given to
 * `--config`): one recorded before losses had forms names none, and its run
 * trained RobRank's form, so that form is filled in (not today's default).
 */
export function recordedConfig(c: ExperimentConfig): ExperimentConfig {
  const forms = lossEntry(c.loss).forms;
  return forms === undefined || c.lossForm !== undefined ? c : { ...c, lossForm: forms.robrank };
}

/** JSON with object keys sorted at every level: equal configs give equal strings whatever order their fields were set in. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x !== null && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : x,
  );
}

/** The catalogue entry of a config's dataset. */
export function datasetOf(c: ExperimentConfig): DatasetEntry {
  return parseDatasetName(c.dataset).entry;
}

/**
 * The config with everything decided up front, as a checkpoint records it: the
 * canonical dataset name, absolute paths, and the defense with its budget and
 * the dataset's published values filled in. Incompatible combinations (a
 * model for other image sizes, a defense not defined for the metric, CA-TRIDE
 * without λ) are errors here, before any data is loaded.
 */
export function resolveConfig(c: ExperimentConfig): ExperimentConfig {
  validateConfig(c);
  const entry = datasetOf(c);
  const resolved: ExperimentConfig = {
    ...c,
    dataset: canonicalDatasetName(c.dataset),
    ...(c.root !== undefined ? { root: path.resolve(c.root) } : {}),
    ...(c.pretrained !== undefined ? { pretrained: path.resolve(c.pretrained) } : {}),
    ...(c.modelFile !== undefined ? { modelFile: path.resolve(c.modelFile) } : {}),
    ...(lossEntry(c.loss).forms !== undefined ? { lossForm: lossFormOf(c.loss, c.lossForm) } : {}),
    lossParams: { ...defaultLossParams(c.loss, c.metric, c.lossForm), ...c.lossParams },
    defense: resolveDefense(c.defense, { imageSide: entry.imageSide, paper: entry.paper, metric: c.metric, dataset: entry.name }),
  };
  const refusal = defenseRefusal(resolved.defense, resolved.loss, resolved.metric);
  if (refusal !== undefined) throw new Error(refusal);
  const sharding = DEFENSES[resolved.defense.kind].sharding;
  if (sharding !== undefined && (resolved.shards ?? 1) > 1) throw new Error(sharding);
  return validateConfig(resolved);
}
