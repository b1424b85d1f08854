// `rankshield bench robrank RUN --robrank DIR`: the rob28 attacks of rankshield and of RobRank's
// own attack code (bench/robrank_parity.py imports AdvRank from a RobRank checkout) on the SAME
// checkpoint and the same first query batches of the Fashion-MNIST test split, side by side.
// Selections are random on both sides (different generators), so the columns agree up to sampling
// noise; for the recall-type columns the table prints the standard error of the difference of two
// independent binomial estimates over the attacked queries, √(2·p(1−p)/n), so "within noise" is
// a stated number. A c2f2 with metric N (the only model the Python side builds) is required.
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setNumThreads } from '../src/tensor/index.js';
import { loadSmallDataset } from '../src/data/index.js';
import { metricByName } from '../src/metric/metric.js';
import { ERS_ATTACK_KINDS, ATTACKS, isAttackKind, type AttackKind } from '../src/attack/index.js';
import { runSwipe } from '../src/eval/swipe.js';
import { loadCheckpoint } from '../src/run/model-factory.js';
import { UsageError } from '../src/util/usage-error.js';
import { flagBool, flagNumber, flagString, parseOptions } from '../src/util/options.js';
import { defaultThreads, pythonTorch } from './common.js';

/** Columns whose values are percentages of queries (a binomial noise applies). */
const QUERY_SHARE_COLUMNS = new Set(['ES:R', 'LTM', 'GTM', 'GTT', 'GTT:ID-Retain@1']);

export async function runRobrankParityBench(argv: string[]): Promise<number> {
  const p = parseOptions(argv, {
    robrank: { kind: 'string', value: 'DIR', help: 'a checkout of RobRank (its robrank/attacks is imported)' },
    'max-iter': { kind: 'int', value: 'N', min: 1, help: 'query batches of 128 (default 2)' },
    attacks: { kind: 'string', value: 'LIST', help: `comma-separated kinds (default all: ${ERS_ATTACK_KINDS.join(',')})` },
    seed: { kind: 'int', value: 'S', min: 0, help: 'selection seed (both sides; their generators differ)' },
    threads: { kind: 'int', value: 'N', min: 1, help: 'libtorch threads (both sides)' },
    json: { kind: 'boolean', help: 'print only the JSON line' },
  });
  const run = p.positionals[0];
  const robrank = flagString(p, 'robrank');
  if (run === undefined || robrank === undefined)
    throw new UsageError('usage: rankshield bench robrank RUN --robrank DIR [--max-iter N] [--attacks CA+,QA+,ES]');
  if (!existsSync(path.join(robrank, 'robrank', 'attacks', 'advrank.py')))
    throw new UsageError(`--robrank ${robrank}: no robrank/attacks/advrank.py there (give the root of a RobRank checkout)`);
  const kinds = (flagString(p, 'attacks') ?? ERS_ATTACK_KINDS.join(',')).split(',').map((k): AttackKind => {
    const kind = k.trim().toUpperCase();
    if (!isAttackKind(kind) || !ERS_ATTACK_KINDS.includes(kind))
      throw new UsageError(`--attacks: unknown kind '${kind}' (expected some of ${ERS_ATTACK_KINDS.join(', ')})`);
    return kind;
  });
  const batches = flagNumber(p, 'max-iter') ?? 2;
  const seed = flagNumber(p, 'seed') ?? 0;
  const threads = flagNumber(p, 'threads') ?? defaultThreads();
  setNumThreads(threads);

  const { model, info } = loadCheckpoint(run);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'rankshield-robrank-parity-'));
  try {
    if (model.kind !== 'c2f2' || info.config.metric !== 'N' || !['fashion', 'mnist'].includes(info.config.dataset)) {
      throw new UsageError(
        `bench robrank compares c2f2 models with metric N on MNIST / Fashion-MNIST; ${run} is ${model.kind}, metric ${info.config.metric}, ${info.config.dataset}`,
      );
    }
    const { test } = await loadSmallDataset(info.config.dataset as 'fashion' | 'mnist');
    const profile = {
      name: 'rob28',
      usedFor: 'parity',
      batchSize: 128,
      runs: kinds.map((attack) => ({ attack, budget: { epsilon: 77 / 255, alpha: 3 / 255, steps: 32 } })),
    };
    const ours = await runSwipe(model, test, metricByName('N'), { profile, maxIter: batches, seed });
    const images = path.join(tmp, 'images.u8');
    const labels = path.join(tmp, 'labels.u8');
    writeFileSync(images, test.pixels);
    writeFileSync(labels, Uint8Array.from(test.labels));
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'robrank_parity.py');
    const theirs = pythonTorch(script, [
      path.resolve(robrank),
      path.join(path.resolve(run), 'model.safetensors'),
      images,
      labels,
      batches,
      threads,
      seed,
      kinds.join(','),
    ]);
    const rows = ATTACKS.flatMap((a) => (kinds.includes(a.kind) ? Object.keys(a.columns) : [])).map((column) => {
      const r = ours.attacks[column]!;
      const t = theirs[column]!;
      const share = (r + t) / 200;
      const noise = QUERY_SHARE_COLUMNS.has(column) ? 100 * Math.sqrt((2 * share * (1 - share)) / ours.queries) : null;
      return { column, rankshield: r, robrank: t, difference: r - t, noise };
    });
    if (!flagBool(p, 'json')) {
      console.log(`rob28 (ε 77/255, α 3/255, η 32) on ${run}: ${ours.queries} queries, seed ${seed}, ${threads} thread(s)`);
      console.log('| column | rankshield | RobRank code | difference | noise (1 s.e.) |');
      console.log('| --- | --- | --- | --- | --- |');
      for (const r of rows)
        console.log(
          `| ${r.column} | ${r.rankshield.toFixed(3)} | ${r.robrank.toFixed(3)} | ${r.difference.toFixed(3)} | ${r.noise === null ? '—' : r.noise.toFixed(2)} |`,
        );
      console.log(`seconds: rankshield ${ours.seconds.toFixed(1)}, RobRank code ${theirs.seconds!.toFixed(1)}`);
    }
    console.log(JSON.stringify({ bench: 'robrank', run, queries: ours.queries, seed, rows, seconds: { rankshield: ours.seconds, robrank: theirs.seconds } }));
    return 0;
  } finally {
    model.dispose();
    rmSync(tmp, { recursive: true, force: true });
  }
}
