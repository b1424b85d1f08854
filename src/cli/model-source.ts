// Layer: cli. Where eval, swipe and attack get their model: a rankshield
// checkpoint (CKPT, which names its dataset and metric) or a user's TorchScript
// file (--model-file, with --dataset and --metric; the input shape comes from
// the dataset, and --input-shape must agree with it).
import { DATASET_NAMES, openDataset, type OpenedDataset } from '../data/index.js';
import { METRIC_NAMES, metricByName, type Metric } from '../metric/metric.js';
import type { EmbeddingModel } from '../models/model.js';
import { ScriptedModel } from '../models/scripted.js';
import { loadCheckpoint } from '../run/model-factory.js';
import type { CheckpointInfo } from '../run/checkpoint.js';
import { flagString, ROOT_OPTION, type OptionSection, type ParsedArgs } from './args.js';
import { UsageError } from './command.js';

/** Where eval, swipe and attack find the model and its data: --root for a checkpoint's dataset, or a TorchScript file. */
export const MODEL_SOURCE_SECTION: OptionSection = {
  title: 'instead of CKPT, a TorchScript model (torch.jit.save of a trace or script; N×C×H×W in [0, 1] → N×D)',
  options: {
    'model-file': { kind: 'string', value: 'FILE', help: 'the model; normalisation, if any, inside it' },
    dataset: { kind: 'string', value: 'NAME', help: `its test split (required with --model-file): ${DATASET_NAMES}` },
    metric: { kind: 'string', value: METRIC_NAMES.join('|'), choices: METRIC_NAMES, help: 'distance on its embeddings', default: 'N' },
    'input-shape': { kind: 'string', value: 'C,H,W', help: "checked against the dataset's image shape (e.g. 3,224,224)" },
  },
};

/** --root, shared by both sources: the dataset's folder (a checkpoint's recorded root otherwise). */
export const DATA_ROOT_SECTION: OptionSection = { title: 'data', options: ROOT_OPTION };

/** A model ready to evaluate, its dataset, its metric, and the checkpoint's info when it came from one. */
export interface ModelSource {
  model: EmbeddingModel;
  data: OpenedDataset;
  metric: Metric;
  /** null for --model-file. */
  info: CheckpointInfo | null;
}

/** Parses `C,H,W`. */
export function parseInputShape(s: string): [number, number, number] {
  const parts = s.split(',').map((x) => Number(x.trim()));
  if (parts.length !== 3 || !parts.every((d) => Number.isInteger(d) && d > 0))
    throw new UsageError(`--input-shape must be C,H,W (three positive integers), got '${s}'`);
  return parts as [number, number, number];
}

/** Opens the model of a command line: the one positional CKPT, or --model-file with --dataset. */
export async function openModelSource(p: ParsedArgs): Promise<ModelSource> {
  const file = flagString(p, 'model-file');
  if (file === undefined) {
    if (p.positionals.length !== 1) throw new UsageError('expected exactly one checkpoint path (or --model-file FILE --dataset NAME)');
    for (const f of ['dataset', 'metric', 'input-shape'])
      if (p.flags.has(f)) throw new UsageError(`--${f} goes with --model-file (a checkpoint names its own)`);
    const { model, info } = loadCheckpoint(p.positionals[0]!);
    const root = flagString(p, 'root') ?? info.config.root;
    try {
      return { model, data: await openDataset(info.config.dataset, root === undefined ? {} : { root }), metric: metricByName(info.config.metric), info };
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  if (p.positionals.length !== 0) throw new UsageError('give either a checkpoint or --model-file, not both');
  const dataset = flagString(p, 'dataset');
  if (dataset === undefined) throw new UsageError('--model-file needs --dataset NAME (its test split is the query set and gallery)');
  let metric: Metric;
  try {
    metric = metricByName(flagString(p, 'metric') ?? 'N');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const root = flagString(p, 'root');
  let data: OpenedDataset;
  try {
    data = await openDataset(dataset, root === undefined ? {} : { root });
  } catch (e) {
    // A misspelt name is the user's; a missing folder names itself.
    throw /unknown dataset/.test((e as Error).message) ? new UsageError((e as Error).message) : e;
  }
  const shape: [number, number, number] = [data.test.channels, data.test.height, data.test.width];
  const given = flagString(p, 'input-shape');
  if (given !== undefined && parseInputShape(given).join(',') !== shape.join(',')) {
    throw new UsageError(`--input-shape ${given} differs from ${dataset}'s images (${shape.join(',')})`);
  }
  return { model: ScriptedModel.load(file, shape), data, metric, info: null };
}
