// Layer: reproduce. RobRank's Fashion-MNIST table (c2f2, rob28): N/A, EST and
// ACT, each with the triplet loss under the metrics N, E and C.
import type { MetricName } from '../../metric/metric.js';
import type { PublishedRow, PublishedTable, RowRun } from './types.js';

const COLUMNS = ['r@M', 'R@1', 'R@2', 'mAP', 'mAP@10', 'NMI', 'CA+', 'CA-', 'QA+', 'QA-', 'TMA', 'ES:D', 'ES:R', 'LTM', 'GTM', 'GTT', 'ERS'] as const;

/** The doc prints benign metrics as fractions; here ×100 like every other table. */
const ROWS: readonly [id: string, label: string, model: string, metric: MetricName, values: readonly number[]][] = [
  ['na-n', 'rc2f2:ptripletN (N/A)', 'rc2f2', 'N', [2.9, 87.6, 92.9, 84.4, 83.1, 76.6, 1.1, 96.8, 0.3, 97.8, 0.99, 1.604, 0.1, 0.0, 12.6, 0.0, 4.2]],
  ['na-e', 'rc2f2:ptripletE (N/A)', 'rc2f2', 'E', [2.4, 87.4, 92.7, 83.5, 83.0, 81.4, 0.7, 96.8, 0.3, 93.3, 0.987, 10.91, 24.0, 0.3, 7.0, 0.0, -40.1]],
  ['na-c', 'rc2f2:ptripletC (N/A)', 'rc2f2', 'C', [3.2, 87.3, 92.8, 85.0, 83.3, 77.8, 1.0, 99.5, 0.3, 99.0, 0.986, 1.594, 30.7, 11.6, 13.8, 0.0, 8.2]],
  ['est-n', 'rc2f2d:ptripletN (EST)', 'rc2f2d', 'N', [2.3, 76.6, 86.0, 59.2, 68.2, 61.0, 14.9, 36.1, 20.9, 48.6, 0.966, 0.288, 62.0, 28.0, 20.8, 0.0, 38.7]],
  ['est-e', 'rc2f2d:ptripletE (EST)', 'rc2f2d', 'E', [2.1, 82.1, 89.2, 63.9, 74.6, 64.1, 10.5, 53.8, 12.5, 65.0, 0.821, 4.608, 52.9, 22.3, 14.6, 0.0, 10.5]],
  ['est-c', 'rc2f2d:ptripletC (EST)', 'rc2f2d', 'C', [3.7, 75.8, 85.4, 61.3, 66.0, 63.0, 33.5, 12.5, 40.4, 8.3, 0.66, 0.04, 53.2, 49.6, 53.6, 0.4, 61.6]],
  ['act-n', 'rc2f2p:ptripletN (ACT)', 'rc2f2p', 'N', [4.1, 78.7, 87.1, 68.8, 69.9, 67.2, 33.6, 14.6, 38.5, 12.1, 0.259, 0.541, 48.5, 59.5, 60.2, 0.1, 63.3]],
  ['act-e', 'rc2f2p:ptripletE (ACT)', 'rc2f2p', 'E', [2.8, 78.6, 86.7, 64.3, 69.8, 64.6, 27.7, 18.6, 38.4, 17.4, 0.477, 9.307, 53.9, 47.8, 49.6, 0.0, 13.4]],
  ['act-c', 'rc2f2p:ptripletC (ACT)', 'rc2f2p', 'C', [3.6, 78.1, 86.8, 67.9, 69.6, 66.8, 32.2, 14.7, 36.9, 12.0, 0.288, 0.182, 51.5, 68.5, 60.1, 0.4, 65.4]],
];

/** The training η of the defended rows: the doc does not state it; RobRank's code default is 32. */
const ETA_READING =
  'The document does not state the training η; the code that produced it runs η = 32 unless an override file is given, and no override is named, so η = 32 is read.';

function run(model: string, metric: string, defended: boolean): RowRun {
  // 8 code epochs (16 image epochs) of 128 pairs, Adam 1e-3: RobRank's 28×28 column.
  return { shorthand: `fashion:${model}:ptriplet${metric}`, eta: defended ? 32 : null, epochs: 8, batchPairs: 128, pretrained: null, profile: 'rob28' };
}

export const ROBRANK_FASHION: PublishedTable = {
  name: 'fashion',
  summary: "RobRank's Fashion-MNIST table: N/A, EST, ACT × metrics N/E/C (c2f2, rob28)",
  source: {
    title: 'Adversarial Attack and Defense in Deep Ranking',
    authors: 'Mo Zhou, Le Wang, Zhenxing Niu, Qilin Zhang, Nanning Zheng, Gang Hua',
    venue: 'IEEE TPAMI; the table is in the RobRank repository documentation',
    link: 'https://github.com/cdluminate/robrank',
    table: 'doc/dmltab-fashion.txt (Fashion-MNIST, c2f2)',
  },
  columns: COLUMNS.map((key) =>
    key === 'r@M'
      ? {
          key,
          role: 'published-only' as const,
          note: 'r@M (mean 0-based rank of the first relevant item): the copy these numbers come from prints benign fractions ×100 and does not say whether this rank was scaled too, so it is shown but not compared',
        }
      : key === 'ERS'
        ? {
            key,
            role: 'compared' as const,
            derived: true,
            note: 'the document publishes no ERS; this one is derived from its printed columns with the ERS formula (negative for E because ES:D is unbounded)',
          }
        : { key, role: 'compared' as const },
  ),
  notes: [
    'Benign metrics are printed as fractions in the source and shown here ×100; mAP@10 is the source\'s "mAP@R" (R = 10).',
    'Attacks: rob28 profile (PGD, ε = 77/255, α = 3/255, 32 steps), the whole 10,000-image test split as queries and gallery.',
    'Whether the published runs used one or two processes is not recorded; a reproduction runs one.',
  ],
  seedPolicy: 'The published runs set no seed (not bit-reproducible); a reproduction trains one run per row with seed 0 and attacks with seed 0.',
  rows: ROWS.map(
    ([id, label, model, metric, values]): PublishedRow => ({
      id,
      label,
      run: run(model, metric, model !== 'rc2f2'),
      published: Object.fromEntries(COLUMNS.map((c, i) => [c, values[i]!])),
      ...(model !== 'rc2f2' ? { reading: ETA_READING } : {}),
    }),
  ),
};
