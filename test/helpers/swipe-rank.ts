// A swipe rank for test/distributed.test.ts: loads a checkpoint, runs a small
// version of rob28 (all nine attacks, η = 3, 24-query batches, 4 batches) over
// the process group of its environment (none: one process) and prints the JSON.
// argv: CKPT [DIST_TIMEOUT_S]; "ready" goes to stderr once the group is joined
// and the model loaded (a test that stops a rank mid-swipe waits for it).
import { ERS_ATTACK_KINDS } from '../../src/attack/index.js';
import { openDataset } from '../../src/data/index.js';
import { runSwipe } from '../../src/eval/swipe.js';
import { initProcessGroup, rendezvousFromEnv, SINGLE_PROCESS } from '../../src/tensor/index.js';
import { loadCheckpoint } from '../../src/run/model-factory.js';
import { metricByName } from '../../src/metric/metric.js';

const r = rendezvousFromEnv();
const group = r === null ? SINGLE_PROCESS : initProcessGroup(r, Number(process.argv[3] ?? 60));
const { model, info } = loadCheckpoint(process.argv[2]!);
const data = await openDataset(info.config.dataset, info.config.root === undefined ? {} : { root: info.config.root });
process.stderr.write('ready\n');
const budget = { epsilon: 77 / 255, alpha: 3 / 255, steps: 3 };
const profile = { name: 'rob28-small', usedFor: 'tests', batchSize: 24, runs: ERS_ATTACK_KINDS.map((attack) => ({ attack, budget })) };
const result = await runSwipe(model, data.test, metricByName(info.config.metric), { profile, maxIter: 4, group });
if (group.rank === 0) console.log(JSON.stringify({ ...result, seconds: 0, gallerySeconds: 0 }));
group.destroy();
model.dispose();
