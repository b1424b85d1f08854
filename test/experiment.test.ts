// The experiment layer (run/config.ts, run/experiment.ts) without the CLI:
// the rules that assemble a config from a base and changes, and the keys that
// name runs. The keys below were computed before ExperimentConfig was inferred
// from its schema and before these rules left cli/train.ts: a change to the
// config's shape or to the rules that alters any of them renames existing run
// directories (`rankshield reproduce`), so they must stay literal.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { canonicalJson, defaultConfig, parseConfig, parseRecordedConfig, parseShorthand, resolveConfig, type ExperimentConfig } from '../src/run/config.js';
import { applyChanges, DEFAULT_DATASET, defaultRunDir, experimentBase, PRETRAINED_NONE, startsFromRandomWeights } from '../src/run/experiment.js';
import { configKey, rowConfig } from '../src/reproduce/scale.js';
import { selectRows, tableByName } from '../src/reproduce/tables/index.js';

const SPECTRAL = 'spectral-triplet';
const WEIGHTS = { pretrained: '/weights/resnet18-imagenet.pth' };
const row = (table: string, id: string) => selectRows(tableByName(table), [id])[0]!;

describe('run keys are those of the configs before the refactor', () => {
  test('published rows at every scale', () => {
    const keys: [string, string, 'smoke' | 'reduced' | 'full', string][] = [
      ['fashion', 'na-n', 'smoke', 'b93fe74c926abec4'],
      ['fashion', 'na-n', 'reduced', 'f99e7ff7a0535b04'],
      ['fashion', 'na-n', 'full', '1a9b5eba937527d2'],
      ['fashion', 'na-e', 'smoke', 'f27cecb6db1b3b04'],
      ['cvpr22', 'cub-na', 'full', '5ca2ae157a8dbd35'],
      ['cvpr22', 'cub-est-8', 'full', 'a00128237494d8cb'],
      ['cvpr22', 'cub-act-8', 'smoke', 'c03c12a1036c9017'],
      ['cvpr22', 'cub-act-8', 'reduced', 'd4f41a865f0e32cf'],
    ];
    for (const [table, id, scale, key] of keys) assert.equal(configKey(rowConfig(row(table, id), scale, WEIGHTS)), key, `${table}/${id}/${scale}`);
  });

  test('defaults and shorthands', () => {
    assert.equal(configKey(resolveConfig(defaultConfig('fashion'))), '1a9b5eba937527d2');
    assert.equal(configKey(resolveConfig(defaultConfig('mnist'))), '05262e5cfe15cff7');
    assert.equal(configKey(resolveConfig(parseShorthand('fashion:rc2f2p:pmtripletE'))), 'e68f4867623cae3a');
    assert.equal(configKey(resolveConfig(parseShorthand('fashion:rc2f2p:psnrN'))), 'cee33a6df421cfe0');
    assert.equal(configKey(resolveConfig(parseShorthand('fashion:rc2f2:pmsN'))), '70c60659c5c76291');
  });

  test("a checkpoint's recorded config parses to the same JSON and key", () => {
    // As checkpoint.json holds it (written before the refactor by `train fashion:rc2f2p:psnrN`).
    const recorded =
      '{"dataset":"fashion","model":"c2f2","metric":"N","loss":"snr","miner":"random","margin":0.2,"epochs":8,"batchPairs":128,"lr":0.001,' +
      '"weightDecay":1e-7,"evalEvery":1,"seed":0,"maxBatches":0,"defense":{"kind":"act","epsilon":0.30196078431372547,' +
      '"alpha":0.011764705882352941,"steps":32},"lossForm":"robrank","lossParams":{"regLambda":0.005}}';
    const c = parseRecordedConfig(JSON.parse(recorded));
    // The parsed config in the schema's field order, as parsing gave it before the refactor.
    const parsed =
      '{"dataset":"fashion","model":"c2f2","metric":"N","loss":"snr","miner":"random","margin":0.2,"lossForm":"robrank","lossParams":{"regLambda":0.005},' +
      '"epochs":8,"batchPairs":128,"lr":0.001,"weightDecay":1e-7,"seed":0,"evalEvery":1,"maxBatches":0,"defense":{"kind":"act","steps":32,' +
      '"epsilon":0.30196078431372547,"alpha":0.011764705882352941}}';
    assert.equal(JSON.stringify(c), parsed);
    assert.equal(configKey(c), 'cee33a6df421cfe0');
    assert.equal(configKey(resolveConfig(c)), 'cee33a6df421cfe0');
  });

  test('the schema still refuses unknown fields and wrong names, naming the field', () => {
    const good = resolveConfig(defaultConfig('fashion'));
    assert.throws(() => parseConfig({ ...good, extra: 1 }), /config: Unrecognized key.*extra/);
    assert.throws(() => parseConfig({ ...good, miner: 'nearest' }), /config\.miner:/);
    assert.throws(() => parseConfig({ ...good, model: 'vgg' }), /config\.model:/);
    assert.throws(() => parseConfig({ ...good, defense: { kind: 'act', steps: 'many' } }), /config\.defense\.steps:/);
  });
});

describe('experiment rules', () => {
  const semihardTriplet = (): ExperimentConfig => applyChanges(experimentBase({}), { miner: 'semihard', loss: 'triplet' });

  test('the base is one of a config file, a shorthand and a dataset; none = the default dataset', () => {
    assert.equal(experimentBase({}).dataset, DEFAULT_DATASET);
    assert.equal(experimentBase({ dataset: 'mnist' }).dataset, 'mnist');
    assert.equal(experimentBase({ shorthand: 'fashion:rc2f2p:pmtripletE' }).miner, 'semihard');
    assert.throws(() => experimentBase({ dataset: 'mnist', shorthand: 'fashion:rc2f2:ptripletN' }), /give the experiment one way/);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rankshield-experiment-'));
    try {
      const config = resolveConfig(parseShorthand('fashion:rc2f2p:psnrN'));
      // A checkpoint.json (format + config) and a bare config give the same experiment.
      writeFileSync(path.join(dir, 'checkpoint.json'), JSON.stringify({ format: 1, config }));
      writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
      assert.equal(canonicalJson(experimentBase({ file: path.join(dir, 'checkpoint.json') })), canonicalJson(config));
      assert.equal(canonicalJson(experimentBase({ file: path.join(dir, 'config.json') })), canonicalJson(config));
      writeFileSync(path.join(dir, 'bad.json'), '{');
      assert.throws(() => experimentBase({ file: path.join(dir, 'bad.json') }), /--config .*bad\.json: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('switching to a loss that mines for itself resets the miner, form and hyper-parameters', () => {
    const c = semihardTriplet();
    assert.equal(c.miner, 'semihard');
    const ms = applyChanges(c, { loss: 'multi-similarity' });
    assert.equal(ms.loss, 'multi-similarity');
    assert.equal(ms.miner, 'random', 'multi-similarity mines for itself: the miner goes back to random');
    assert.equal(ms.margin, 0, 'multi-similarity has no margin');
    const snr = applyChanges(resolveConfig(parseShorthand('fashion:rc2f2:psnrN')), { loss: 'triplet' });
    assert.equal(snr.lossForm, undefined, "the old loss's form does not carry over");
    assert.deepEqual(snr.lossParams, {}, "the old loss's hyper-parameters do not carry over");
    // A loss that always mines with one miner (pDtriplet: distance-weighted) sets it.
    assert.equal(applyChanges(c, { loss: SPECTRAL }).miner, 'distance');
    // Staying on the same loss keeps the miner.
    assert.equal(applyChanges(c, { loss: 'triplet' }).miner, 'semihard');
    // A loss on mined triplets keeps the run's miner.
    assert.equal(applyChanges(c, { loss: 'contrastive' }).miner, 'semihard');
  });

  test('the margin follows loss and metric unless given; a margin-fixing defense applies its own', () => {
    const base = experimentBase({});
    assert.equal(applyChanges(base, { metric: 'E' }).margin, 1.0);
    assert.equal(applyChanges(base, { metric: 'e', margin: 0.5 }).margin, 0.5, 'a given margin wins; metric names are case-insensitive');
    const catride = applyChanges(base, { metric: 'E', defense: { kind: 'catride', lambda: 2 } });
    assert.equal(catride.margin, 0.2, "CA-TRIDE's fixed margin replaces E's 1.0");
    assert.equal(applyChanges(base, { defense: { kind: 'catride', lambda: 2 }, margin: 0.3 }).margin, 0.3);
    // The defense unchanged and no loss or metric given: the base's margin stays.
    assert.equal(applyChanges({ ...catride, margin: 0.7 }, { seed: 3 }).margin, 0.7);
    assert.throws(() => applyChanges(base, { loss: 'multi-similarity', margin: 0.1 }), /loss multi-similarity has no margin: --margin does not apply/);
  });

  test("a loss's hyper-parameter flag is checked against the loss and its form", () => {
    const base = experimentBase({});
    assert.deepEqual(applyChanges(base, { loss: 'snr', lossFlags: { 'snr-lambda': 0.01 } }).lossParams, { regLambda: 0.01 });
    assert.throws(() => applyChanges(base, { lossFlags: { 'snr-lambda': 0.01 } }), /--snr-lambda belongs to --loss snr, not triplet/);
    assert.throws(() => applyChanges(base, { loss: 'snr', lossForm: 'nonesuch' }), /loss snr has no form 'nonesuch'/);
  });

  test('names in any accepted spelling; unknown ones are errors listing the known', () => {
    assert.equal(applyChanges(experimentBase({}), { miner: 'spc2-semihard' }).miner, 'semihard');
    assert.equal(applyChanges(experimentBase({}), { miner: 'm' }).miner, 'semihard');
    assert.throws(() => applyChanges(experimentBase({}), { miner: 'nearest' }), /unknown miner 'nearest' \(expected one of random, semihard/);
    assert.throws(() => applyChanges(experimentBase({}), { model: 'vgg' }), /unknown model 'vgg' \(known: c2f2, resnet18, resnet50; a TorchScript file/);
    assert.throws(() => applyChanges(experimentBase({}), { model: 'resnet18' }), /model resnet18 does not fit dataset fashion/);
  });

  test('a TorchScript file replaces the model; --pretrained none is no weights, on purpose', () => {
    const base = experimentBase({});
    assert.throws(() => applyChanges(base, { modelFile: 'm.pt', model: 'c2f2' }), /--model-file replaces --model and --pretrained/);
    const ts = applyChanges(base, { modelFile: 'm.pt' });
    assert.equal(ts.model, 'torchscript');
    assert.equal(ts.modelFile, path.resolve('m.pt'));
    const cub = experimentBase({ dataset: 'cub' });
    assert.equal(cub.model, 'resnet18');
    assert.equal(startsFromRandomWeights(cub), true);
    assert.equal(startsFromRandomWeights(cub, PRETRAINED_NONE), false);
    assert.equal(applyChanges(cub, { pretrained: PRETRAINED_NONE }).pretrained, undefined);
    assert.equal(startsFromRandomWeights(applyChanges(cub, { pretrained: 'w.pth' })), false);
    assert.equal(startsFromRandomWeights(base), false, 'c2f2 takes no ImageNet weights');
  });

  test('the result is resolved, and the default run directory names the experiment', () => {
    const c = applyChanges(experimentBase({ dataset: 'fashion-mnist' }), { epochs: 2, seed: 4 });
    assert.equal(c.dataset, 'fashion');
    assert.deepEqual(c.lossParams, {});
    assert.equal(c.epochs, 2);
    assert.equal(defaultRunDir(c), path.join('runs', 'fashion-c2f2-triplet-randomN-s4'));
    assert.equal(defaultRunDir({ ...c, dataset: 'folder:/data/imgs' }), path.join('runs', 'folder_data_imgs-c2f2-triplet-randomN-s4'));
    assert.throws(() => applyChanges(experimentBase({}), { epochs: 0 }), /epochs must be a positive integer/);
  });
});
