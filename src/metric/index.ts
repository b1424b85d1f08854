// Layer: metric. Distances, losses and miners; they compose freely:
//   const t = minerByName('softhard')(emb, labels, {metric, margin});
//   const loss = tripletLoss(x.indexSelect(0, t.anchors), x.indexSelect(0, t.positives), x.indexSelect(0, t.negatives), {metric});
export * from './distance.js';
export * from './triplet.js';
export * from './contrastive.js';
export * from './miners.js';
export * from './losses.js';
