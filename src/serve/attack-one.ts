// Layer: serve. One attack on one image (a gallery id or an upload), run in a
// worker: the library's attack, selection and PGD runner (attack/attack.ts),
// seeded as the swipe seeds its first batch, with what a person wants to see
// around it: the measure before and after, the images, the top-k before and
// after and the ranks of the chosen gallery items.
//
// The query's clean embedding is its gallery row for an id (so the top-k
// before equals a search by that id) and the model's embedding for an upload;
// an upload's label is taken to be its nearest gallery item's (LTM, GTM and
// ES:R need one). As in the swipe, the gallery item nearest to the clean query
// counts as its clean copy where an attack leaves it out (docs/attacks-and-metrics.md §1).
import { dispose, manualSeed, noGrad, onDevice, tidy, Tensor, type Device } from '../tensor/index.js';
import {
  columnMeans,
  assertImageBatch,
  attackBatch,
  candidateSelection,
  contextFromEmbeddings,
  disposeBatchContext,
  embedImages,
  perRunOptions,
  SPQA_GROUND_TRUTH,
  type AttackKind,
  type BatchContext,
  type Gallery,
  type RankingAttack,
  type Selection,
} from '../attack/index.js';
import { attackOfRun, attackSeed } from '../eval/swipe.js';
import { imageAt, type DmlDataset } from '../data/index.js';
import type { EmbeddingModel } from '../models/model.js';
import { choosesFor } from './attacks.js';
import { distancesFrom, galleryRow, neighboursOf, rankOf } from './neighbours.js';
import type { AttackJob, AttackOutcome } from './protocol.js';

/** What a worker holds for attacks: the model, the clean gallery and the split it was embedded from. */
export interface Served {
  model: EmbeddingModel;
  gallery: Gallery;
  ds: DmlDataset;
}

/** [1, n] int64 gallery ids on `device`. */
function idTensor(ids: readonly number[], device: Device): Tensor {
  return tidy(() =>
    onDevice(
      Tensor.fromTypedArray(
        BigInt64Array.from(ids, (i) => BigInt(i)),
        [1, ids.length],
        'int64',
      ),
      device,
    ),
  );
}

/**
 * The selection of a request that names its gallery ids (B = 1). SPQA±'s five
 * kept neighbours are then the best-ranked items, the query's copy left out,
 * that are not among the candidates.
 */
function chosenSelection(kind: AttackKind, ctx: BatchContext, ids: readonly number[], device: Device): Selection {
  const index = idTensor(ids, device);
  if (choosesFor(kind) === 'queries') return candidateSelection(ctx, index);
  if (!kind.startsWith('SPQA')) return { candidates: index };
  const order = ctx.ranking.select(0, 0).toArray();
  const kept = order
    .slice(1)
    .filter((g) => !ids.includes(g))
    .slice(0, SPQA_GROUND_TRUTH);
  if (kept.length < SPQA_GROUND_TRUTH) throw new Error(`${kind}: the gallery is too small for ${SPQA_GROUND_TRUTH} kept neighbours besides the candidates`);
  return { candidates: index, groundTruth: idTensor(kept, device) };
}

/** Runs one attack job; every tensor it makes is freed. */
export async function attackOne(s: Served, job: AttackJob): Promise<AttackOutcome> {
  const { model, gallery, ds } = s;
  const metric = gallery.metric;
  const [c, h, w] = model.inputShape;
  const pixels = 'id' in job.query ? await imageAt(ds, job.query.id) : job.query.pixels;
  const chooses = choosesFor(job.attack);
  const size = job.candidates?.length ?? 1;
  const attack = attackOfRun({ attack: job.attack, budget: job.budget, options: perRunOptions(job.attack, size) }, ds);
  const owned: Tensor[] = [];
  const own = (t: Tensor): Tensor => (owned.push(t), t);
  let ctx: BatchContext | undefined;
  try {
    const images = own(tidy(() => onDevice(Tensor.fromTypedArray(pixels, [1, c, h, w], 'float32'), model.device)));
    assertImageBatch(model, images);
    model.eval();
    const clean = 'id' in job.query ? galleryRow(gallery.embeddings, job.query.id) : noGrad(() => embedImages(model, images, metric));
    const label = 'id' in job.query ? ds.labels[job.query.id]! : ds.labels[neighboursOf(clean, gallery.embeddings, metric, 1).ids[0]!]!;
    const labels = own(tidy(() => idTensor([label], model.device).view(1)));
    ctx = contextFromEmbeddings(gallery, images, labels, clean);
    let chosen: number[] = [];
    let before: Record<string, number> = {};
    // The library's attack with the request's ids (or its own draw) and the measure on the clean query taken as "before".
    const wrapped: RankingAttack = {
      ...attack,
      select(x) {
        const sel = job.candidates === undefined ? attack.select(x) : chosenSelection(job.attack, x, job.candidates, model.device);
        const picked = chooses === 'queries' ? sel.queryIndex : chooses === 'candidates' ? sel.candidates : undefined;
        chosen = picked === undefined ? [] : picked.toArray();
        before = columnMeans(attack.measure({ final: x.clean, lastIterationStart: x.clean }, sel, x));
        return sel;
      },
    };
    manualSeed(attackSeed(job.seed, job.attack, 0));
    const r = attackBatch(model, wrapped, ctx, job.budget, { examples: 1 });
    const adversarial = own(r.examples!.adversarial);
    const after = own(noGrad(() => embedImages(model, adversarial, metric)));
    const adv = adversarial.toFloat32Array();
    let linf = 0;
    for (let i = 0; i < adv.length; i++) linf = Math.max(linf, Math.abs(adv[i]! - pixels[i]!));
    return {
      measures: attack.reports.map((name) => ({ name, before: before[name]!, after: r.values[name]! })),
      clean: pixels,
      adversarial: adv,
      linf,
      topkBefore: neighboursOf(ctx.clean, gallery.embeddings, metric, job.k),
      topkAfter: neighboursOf(after, gallery.embeddings, metric, job.k),
      candidates: chosenRanks(chooses, chosen, ctx.clean, after, gallery),
      label,
    };
  } finally {
    if (ctx !== undefined) disposeBatchContext(ctx);
    dispose(owned);
  }
}

/**
 * 1-based ranks of the chosen ids, before and after: a candidate's in the query's
 * ranking (QA±, SPQA±), or the attacked image's in each chosen query's ranking (CA±),
 * counting the gallery items strictly closer (the image's own clean copy included).
 */
function chosenRanks(
  chooses: ReturnType<typeof choosesFor>,
  ids: readonly number[],
  clean: Tensor,
  after: Tensor,
  gallery: Gallery,
): AttackOutcome['candidates'] {
  const { embeddings, metric } = gallery;
  if (chooses === 'candidates') {
    const rowBefore = distancesFrom(clean, embeddings, metric);
    const rowAfter = distancesFrom(after, embeddings, metric);
    return ids.map((id) => ({ id, rankBefore: rankOf(rowBefore, rowBefore[id]!), rankAfter: rankOf(rowAfter, rowAfter[id]!) }));
  }
  if (chooses === 'queries') {
    return ids.map((id) => {
      const query = galleryRow(embeddings, id);
      try {
        const row = distancesFrom(query, embeddings, metric);
        return { id, rankBefore: rankOf(row, distancesFrom(query, clean, metric)[0]!), rankAfter: rankOf(row, distancesFrom(query, after, metric)[0]!) };
      } finally {
        query.dispose();
      }
    });
  }
  return [];
}
