// Layer: metric. The metrics, losses and miners; they compose freely:
//   const metric = metricByName('N');
//   const x = metric.embed(z);
//   const t = minerByName('softhard')(x, labels, {metric, margin});
//   const loss = tripletLoss(x.indexSelect(0, t.anchors), x.indexSelect(0, t.positives), x.indexSelect(0, t.negatives), {metric});
export * from './metric.js';
export * from './triplet.js';
export * from './contrastive.js';
export * from './miners.js';
export * from './losses.js';
export * from './training-loss.js';
export * from './margin.js';
export * from './multi-similarity.js';
export * from './lifted.js';
export * from './npair.js';
export * from './snr.js';
export * from './quadruplet.js';
export * from './spectral-triplet.js';
