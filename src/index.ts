/**
 * rankshield — train, attack and measure the adversarial robustness of deep
 * metric learning (image retrieval) models, with libtorch as the tensor engine.
 *
 * Everything a program needs is exported from this one module:
 *
 * - tensors and memory: {@link Tensor}, {@link tidy}, {@link dispose}, {@link noGrad};
 * - building blocks: {@link Module}, layers, {@link Adam}, {@link SGD};
 * - models: {@link C2F2}, {@link ResNet} (all {@link EmbeddingModel}s);
 * - data: {@link openDataset}, {@link testLoader}, {@link spc2Loader};
 * - metrics, losses and miners: {@link METRICS} and {@link metricByName}, the loss catalogue {@link LOSSES}
 *   ({@link buildTrainingLoss}, {@link tripletLoss}, {@link marginLoss}, …), {@link minerByName};
 * - attacks: the PGD core {@link pgd}, {@link createAttack}, {@link attackBatch}, {@link PROFILES};
 * - defenses: {@link buildDefense} and the training-step strategies (DEFENSE_KINDS);
 * - training: {@link train}, {@link defaultConfig}, {@link parseShorthand};
 * - checkpoints: {@link loadCheckpoint}, {@link saveCheckpoint}, safetensors and torch.save readers;
 * - evaluation: {@link evaluateBenign}, {@link retrievalMetrics}, {@link runSwipe},
 *   {@link empiricalRobustnessScore}, {@link adjustedRobustnessScore}.
 *
 * Images are NCHW float32 in [0, 1] (normalisation is inside the models, so
 * attack budgets are in pixel space). Tensors are freed explicitly: wrap work
 * in {@link tidy} or call `dispose()`.
 *
 * The guide with worked examples is docs/api.md in the package; the methods,
 * attacks, metrics and datasets are described in docs/.
 *
 * @packageDocumentation
 */

// ------------------------------------------------------------ tensors and memory
export * from './tensor/index.js';

// ------------------------------------------------------------ nn and optimizers
export * from './nn/index.js';
export * from './optim/index.js';

// ------------------------------------------------------------ models
export type { EmbeddingModel } from './models/model.js';
export { C2F2 } from './models/c2f2.js';
export { ResNet, type ResNetDepth, type ResNetOptions } from './models/resnet.js';
export { loadImagenetWeights, readStateDictFile } from './models/pretrained.js';
export * from './models/scripted.js';
export * from './models/robrank.js';

// ------------------------------------------------------------ datasets and loaders
export * from './data/index.js';

// ------------------------------------------------------------ distances, losses, miners
export * from './metric/index.js';

// ------------------------------------------------------------ attacks and the PGD core
export * from './attack/index.js';
// Both layers name a type Selection: an attack's is the public one, a miner's is renamed.
export type { Selection } from './attack/index.js';
export type { Selection as MinerSelection } from './metric/index.js';

// ------------------------------------------------------------ defenses
export type { Defense, DefenseContext, DefenseStats, DefenseStep } from './defense/defense.js';
export { buildDefense, describeDefense, DEFENSE_KINDS, SAMPLERS, type DefenseConfig, type SamplerName } from './defense/registry.js';
export { noDefense } from './defense/none.js';
export { embeddingShiftedTriplet, estObjective } from './defense/est.js';
export { actObjective, antiCollapseTriplet, type ActOptions } from './defense/act.js';
export { hardnessManipulation, type Destination, type GradualDestination, type HardnessManipulationOptions } from './defense/hm.js';
export { collapseAwareTripletDecoupling, weightedDistance, type CatrideOptions, type CollapseWeighting } from './defense/catride.js';
export { madryObjective, madryTriplet, type MadryMembers } from './defense/amd.js';
export { embeddingShiftPenalty, suppressEmbeddingShift } from './defense/ses.js';
export { revisedEmbeddingShiftedTriplet } from './defense/rest.js';
export { FREE_BASES, freeAdversarialTraining, type FreeBase, type FreeOptions } from './defense/free.js';
export { uniformNoise } from './defense/noise.js';
export { defaultBudget } from './defense/common.js';

// ------------------------------------------------------------ training
export {
  train,
  trainEpoch,
  TrainingInterrupted,
  DEFAULT_CHECKPOINT_SECONDS,
  type CheckpointEvery,
  type EpochOptions,
  type EpochRecord,
  type TrainOptions,
  type TrainResult,
} from './train/trainer.js';
export {
  defaultConfig,
  defaultLossMargin,
  parseConfig,
  parseShorthand,
  validateConfig,
  type ExperimentConfig,
  type LossKind,
  type ModelKind,
} from './run/config.js';
export { writeReport } from './train/report.js';
export { trainingCurvesSvg, type EvaluatedEpoch, type StepRecord, type TrainingChart } from './eval/plot.js';
export { ProgressBar } from './util/progress.js';

// ------------------------------------------------------------ checkpoints and tensor files
export {
  CheckpointError,
  hasCheckpoint,
  latestGoodCheckpoint,
  loadModelWeights,
  loadOptimizerState,
  readCheckpoint,
  readCheckpointInfo,
  resolveCheckpointDir,
  type CheckpointInfo,
  type CheckpointState,
  type EpochProgress,
  type TrainingPosition,
  type VerifiedCheckpoint,
  type KeepPolicy,
  type KeptEpoch,
} from './run/checkpoint.js';
export { createModel, loadCheckpoint } from './run/model-factory.js';
export { saveCheckpoint, type SaveOptions } from './run/commit.js';
export { keptEpochs, type KeptEpochStatus } from './run/kept-epochs.js';
export { decodeSafetensors, encodeSafetensors, loadSafetensors, saveSafetensors, type SafetensorsContent } from './io/safetensors.js';
export { decodeTorchFile, disposeTorchValue, loadTorchFile, stateDictOf, type TorchFileOptions, type TorchValue } from './io/torchFile.js';

// ------------------------------------------------------------ evaluation
export {
  BENIGN_COLUMNS,
  benignJson,
  evaluateBenign,
  formatBenign,
  readBenignMetrics,
  robrankBenignKeys,
  type BenignMetrics,
  type BenignOptions,
} from './eval/benign.js';
export { embedDataset, type EmbedOptions } from './eval/embed.js';
export { MAP_FIXED_R, retrievalMetrics, type ExcludeSelfBy, type RetrievalMetrics, type RetrievalOptions, type RetrievalReport } from './eval/retrieval.js';
export { kmeans, type KMeansInit, type KMeansOptions, type KMeansResult } from './eval/kmeans.js';
export { embeddingNmi, normalizedMutualInformation, type EmbeddingNmi } from './eval/nmi.js';
export { catrideLambdaFromEntanglement, entanglement, type Entanglement } from './eval/entanglement.js';
export * from './eval/robustness.js';
export { formatFixed } from './eval/format.js';

// ------------------------------------------------------------ the robustness swipe and its reports
export {
  CERTIFY_DEFAULTS,
  runCertify,
  type CertifiedRow,
  type CertifyOptions,
  type CertifyResult,
  type EmpiricalResult,
  type EmpiricalRow,
} from './eval/certify.js';
export { certifyMarkdown, certifySvg } from './eval/certify-report.js';
export { meanDeviationBound, smoothedEmbeddings, smoothedLipschitz, unionAlpha, type SmoothingOptions } from './eval/smoothing.js';
export { certifiedAt, certifyQuery, embeddingShiftBound, type CertificateConstants, type GalleryMode, type QueryCertificate } from './eval/certificate.js';
export { attackSmoothedRecall, smoothedTopOneRelevant, type SmoothedAttackOptions } from './eval/smoothed-attack.js';
export {
  attackExamples,
  benignRecallAt1,
  embedGallery,
  runSwipe,
  type SwipeExample,
  type SwipeExamplesOption,
  type SwipeOptions,
  type SwipeProgress,
  type SwipeResult,
} from './eval/swipe.js';
export { saveAttackImages, chwPng, perturbationScale, type AttackImagesInput, type AttackImageRecord, type Neighbour } from './eval/attack-images.js';
export { SwipeExampleKeeper, swipeHtml, writeSwipePage, type SwipePage, type SwipePageOptions, type SwipePageSource } from './eval/report-html.js';
export { formatBudget, swipeMarkdown, swipeSvg, tradeoffSvg, type TradeoffPoint, type TradeoffSeries } from './eval/report-svg.js';
// Robustness over training: the kept epochs of a run (train --keep-every) swiped, stored, tabulated.
export {
  parseEpochList,
  readTrails,
  swipeKeptEpochs,
  trailMarkdown,
  trailSvg,
  trailTable,
  type EpochSwipe,
  type EpochSwipeOptions,
  type EpochSwipesDone,
  type TrailRow,
  type TrailSettings,
  type TrailTable,
} from './eval/trail.js';
export { attackColumn, formatAttackValue, type AttackColumn, type RobustDirection } from './eval/columns.js';
