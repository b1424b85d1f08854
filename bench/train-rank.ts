// One rank of `rankshield bench train --nproc N`: the trainer's epoch over a
// process group from the environment (RANK, WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT), the global batch in N shards. Rank 0 prints one JSON line.
import { initProcessGroup, manualSeed, rendezvousFromEnv, setNumThreads } from '../src/tensor/index.js';
import { openDataset } from '../src/data/index.js';
import { Adam } from '../src/optim/index.js';
import { buildDefense } from '../src/defense/registry.js';
import { createModel } from '../src/run/model-factory.js';
import { defaultConfig } from '../src/run/config.js';
import { trainEpoch } from '../src/train/trainer.js';

const [threads, pairs, batches] = process.argv.slice(2).map(Number) as [number, number, number];
const r = rendezvousFromEnv();
if (r === null) throw new Error('bench/train-rank: start it with RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT');
setNumThreads(threads);
const group = initProcessGroup(r, 300);
const train = (await openDataset('fashion')).train;
const config = { ...defaultConfig('fashion'), batchPairs: pairs, maxBatches: batches, shards: r.worldSize };
manualSeed(0);
const model = createModel(config);
const opt = new Adam(model.parameters(), { lr: config.lr, weightDecay: config.weightDecay });
group.barrier();
const t0 = performance.now();
const rec = await trainEpoch({ model, opt, defense: buildDefense(config), train, config, epoch: 0, group });
group.barrier();
if (r.rank === 0) console.log(JSON.stringify({ seconds: (performance.now() - t0) / 1000, batches: rec.steps }));
group.destroy();
opt.dispose();
model.dispose();
