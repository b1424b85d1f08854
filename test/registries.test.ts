// The catalogues of datasets, models, metrics, losses and miners: every entry
// is found by its name (the name types are derived from the lists, so a name
// here that is not in its list fails to compile), names are unique, and an
// unknown name is an error listing the known ones.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DATASETS, DATASET_KINDS, parseDatasetName, type DatasetName } from '../src/data/registry.js';
import { LOSSES, LOSS_NAMES, lossEntry, type LossKind } from '../src/metric/losses.js';
import { METRICS, METRIC_NAMES, metricByName, type MetricName } from '../src/metric/metric.js';
import { MINERS, MINER_NAMES, minerEntry, parseMinerName, type MinerName } from '../src/metric/miners.js';
import { MODELS, MODEL_NAMES, modelEntry, NAMED_MODELS, type ModelKind } from '../src/models/catalogue.js';
import { entryByName, isNameOf, namesOf } from '../src/util/catalogue.js';

/** Each name type, written out: adding or removing an entry fails to compile here until the test says so. */
const EXPECTED: {
  datasets: readonly DatasetName[];
  models: readonly ModelKind[];
  metrics: readonly MetricName[];
  losses: readonly LossKind[];
  miners: readonly MinerName[];
} = {
  datasets: ['mnist', 'fashion', 'cub', 'cars', 'sop', 'folder'],
  models: ['c2f2', 'resnet18', 'resnet50', 'torchscript'],
  metrics: ['N', 'E', 'C'],
  losses: ['triplet', 'contrastive', 'margin', 'multi-similarity', 'lifted', 'npair', 'snr', 'quadruplet', 'spectral-triplet', 'circle'],
  miners: ['random', 'semihard', 'softhard', 'distance', 'hardest', 'gradual-semihard'],
};

test('the name lists are the lists of entry names, unique, in list order', () => {
  assert.deepEqual(DATASET_KINDS, EXPECTED.datasets);
  assert.deepEqual(MODEL_NAMES, EXPECTED.models);
  assert.deepEqual(METRIC_NAMES, EXPECTED.metrics);
  assert.deepEqual(LOSS_NAMES, EXPECTED.losses);
  assert.deepEqual(MINER_NAMES, EXPECTED.miners);
  for (const names of [DATASET_KINDS, MODEL_NAMES, METRIC_NAMES, LOSS_NAMES, MINER_NAMES]) assert.equal(new Set(names).size, names.length, names.join(', '));
  assert.deepEqual(namesOf(DATASETS), DATASET_KINDS);
  assert.deepEqual(namesOf(MODELS), MODEL_NAMES);
  assert.deepEqual(namesOf(METRICS), METRIC_NAMES);
  assert.deepEqual(namesOf(LOSSES), LOSS_NAMES);
  assert.deepEqual(namesOf(MINERS), MINER_NAMES);
});

test('every entry is found by its name (lookups round-trip)', () => {
  for (const d of DATASETS) {
    const spelled = d.takesPath ? `${d.name}:/data` : d.name;
    assert.equal(parseDatasetName(spelled).entry, d);
    for (const alias of d.aliases) assert.equal(parseDatasetName(alias).entry, d, alias);
  }
  for (const m of MODELS) assert.equal(modelEntry(m.name), m);
  for (const m of METRICS) assert.equal(metricByName(m.name), m);
  for (const l of LOSSES) assert.equal(lossEntry(l.name), l);
  for (const m of MINERS) {
    assert.equal(minerEntry(m.name), m);
    assert.equal(parseMinerName(m.name), m.name);
    assert.equal(parseMinerName(m.codeId), m.name, m.codeId);
    if (m.hmLetter !== undefined) assert.equal(parseMinerName(m.hmLetter), m.name, m.hmLetter);
  }
  // --model picks every model that is not read from a user's file.
  assert.deepEqual(
    NAMED_MODELS.map((m) => m.name),
    ['c2f2', 'resnet18', 'resnet50'],
  );
});

test('an unknown name is an error listing the known ones', () => {
  assert.throws(
    () => parseDatasetName('imagenet'),
    /unknown dataset 'imagenet' \(known: mnist, fashion \(fashion-mnist\), cub \(cub200, cub-200-2011\), .*folder:PATH\)/,
  );
  assert.throws(() => modelEntry('vgg16'), /unknown model 'vgg16' \(known: c2f2, resnet18, resnet50; a TorchScript file with --model-file\)/);
  assert.throws(() => metricByName('L1'), /unknown metric 'L1' \(expected one of N, E, C\)/);
  assert.throws(() => lossEntry('arcface'), new RegExp(`unknown loss 'arcface' \\(known: ${LOSS_NAMES.join(', ')}\\)`));
  assert.throws(() => minerEntry('nearest'), new RegExp(`unknown miner 'nearest' \\(known: ${MINER_NAMES.join(', ')}\\)`));
  assert.throws(
    () => parseMinerName('nearest'),
    /unknown miner 'nearest' \(expected one of random, semihard, softhard, distance, hardest, gradual-semihard, a RobRank letter r\/m\/s\/d\/h/,
  );
});

test('the generic lookups', () => {
  const list = [{ name: 'a' }, { name: 'b' }] as const;
  assert.equal(entryByName(list, 'b', 'thing'), list[1]);
  assert.throws(() => entryByName(list, 'c', 'thing'), /^Error: unknown thing 'c' \(known: a, b\)$/);
  assert.throws(() => entryByName(list, 'c', 'thing', 'a, b or a file'), /^Error: unknown thing 'c' \(known: a, b or a file\)$/);
  assert.equal(isNameOf(list, 'a'), true);
  assert.equal(isNameOf(list, 'A'), false);
  assert.deepEqual(namesOf(list), ['a', 'b']);
});
