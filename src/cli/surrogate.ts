// Layer: cli. The surrogate of a transfer attack: a given checkpoint, or a fresh undefended
// model trained by `rankshield train` itself (the dataset's default model, seed 1 so that it is
// not the attacked model's twin, one epoch of N SPC-2 batches). With a directory the fresh
// surrogate is a run there and is reused by the next evaluation; without one it lives in a
// temporary directory that is removed afterwards.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { EmbeddingModel } from '../models/model.js';
import { hasCheckpoint } from '../run/checkpoint.js';
import { loadCheckpoint } from '../run/model-factory.js';
import { trainCommand } from './train.js';
import { UsageError } from './command.js';

/** SPC-2 batches of a fresh surrogate unless told. */
export const SURROGATE_BATCHES = 100;
/** The fresh surrogate's seed (the attacked runs' default is 0). */
export const SURROGATE_SEED = 1;

export interface OpenedSurrogate {
  model: EmbeddingModel;
  /** In words, for the reports. */
  source: string;
  /** Removes a temporary surrogate. */
  cleanup?: () => void;
}

export async function openSurrogate(o: { from?: string; dataset: string; batches?: number; dir?: string; quiet?: boolean }): Promise<OpenedSurrogate> {
  if (o.from !== undefined) {
    if (!existsSync(o.from)) throw new UsageError(`--transfer-from ${o.from}: no such checkpoint`);
    const { model, info } = loadCheckpoint(o.from);
    return { model, source: `${path.basename(path.resolve(o.from))} (${info.config.model}, defense ${info.config.defense.kind})` };
  }
  const batches = o.batches ?? SURROGATE_BATCHES;
  const temporary = o.dir === undefined;
  const dir = o.dir ?? path.join(mkdtempSync(path.join(os.tmpdir(), 'rankshield-surrogate-')), 'surrogate');
  const cleanup = temporary ? () => rmSync(path.dirname(dir), { recursive: true, force: true }) : undefined;
  try {
    if (!hasCheckpoint(dir)) {
      if (!o.quiet) process.stderr.write(`rankshield swipe: training an undefended surrogate (${batches} batches, seed ${SURROGATE_SEED}) in ${dir}\n`);
      const code = await trainCommand.run([
        '--dataset',
        o.dataset,
        '--epochs',
        '1',
        '--max-batches',
        String(batches),
        '--seed',
        String(SURROGATE_SEED),
        '--out',
        dir,
        '--quiet',
        '--overwrite',
      ]);
      if (code !== 0) throw new Error(`the surrogate's training failed (exit ${code})`);
    }
    const { model } = loadCheckpoint(dir);
    return { model, source: `fresh undefended ${model.kind}, ${batches} batches, seed ${SURROGATE_SEED}`, ...(cleanup === undefined ? {} : { cleanup }) };
  } catch (e) {
    cleanup?.();
    throw e;
  }
}
