// Layer: cli. `rankshield <command> [options]`: dispatches to the command
// modules, loaded lazily so `--help` does not start libtorch.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UsageError, type Command } from './command.js';

type Loader = () => Promise<Command>;

/** name → [summary, loader]; summaries live here so `--help` needs no imports. */
const COMMANDS: Record<string, [string, Loader]> = {
  demo: ['train + evaluate c2f2 on Fashion-MNIST (the default job)', async () => (await import('./demo.js')).demoCommand],
  train: ['train a deep metric learning model (flags or RobRank shorthand)', async () => (await import('./train.js')).trainCommand],
  eval: ['benign retrieval metrics of a checkpoint', async () => (await import('./eval.js')).evalCommand],
  attack: ['one ranking attack (CA±, QA±, SPQA±, TMA, ES, LTM, GTM, GTT) on a checkpoint', async () => (await import('./attack.js')).attackCommand],
  swipe: ['every ranking attack of a profile (rob28, rob224), ERS and ARS', async () => (await import('./swipe.js')).swipeCommand],
  compare: ['paired differences of two or more models on the same queries, with 95 % intervals', async () => (await import('./compare.js')).compareCommand],
  certify: ['certified Recall@K, ES:D and QA± bounds of the Gaussian-smoothed model (L2)', async () => (await import('./certify.js')).certifyCommand],
  serve: ['HTTP service and explorer page: search, attacks and swipes on a checkpoint', async () => (await import('./serve.js')).serveCommand],
  import: ['turn a RobRank (PyTorch Lightning) checkpoint into a rankshield run directory', async () => (await import('./import.js')).importCommand],
  data: ['dataset statistics, fingerprints and checks (mnist, fashion, cub, cars, sop, folder:PATH)', async () => (await import('./data.js')).dataCommand],
  info: ['libtorch version and path, CUDA devices, BLAS, threads, distributed support', async () => (await import('./info.js')).infoCommand],
  reproduce: [
    "rerun a published table (RobRank Fashion, CVPR'22, CA-TRIDE) and compare with its numbers",
    async () => (await import('./reproduce.js')).reproduceCommand,
  ],
  bench: ['side-by-side benchmarks against PyTorch (engine, data, …)', async () => (await import('./bench.js')).benchCommand],
};

/** A few whole command lines for `rankshield --help`: the common tasks, each with what it does. */
const EXAMPLES: readonly (readonly [string, string])[] = [
  ['rankshield demo', "train c2f2 on Fashion-MNIST (RobRank's undefended baseline) and print its benign metrics"],
  ['rankshield train fashion:rc2f2p:ptripletN --out runs/act', 'adversarial training with ACT (RobRank shorthand: the suffix p of rc2f2p)'],
  ['rankshield swipe runs/act --out runs/act/swipe', 'every attack of the rob28 profile, ERS and ARS, a report page'],
  ['rankshield swipe runs/act --epsilon 8/255 --steps 10', 'the same attacks at another budget'],
  ['rankshield attack --model-file model.pt --dataset fashion --attack QA+', 'one attack on your own TorchScript model'],
];

/** `rankshield --help`: the command list. */
export function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  return [
    'rankshield — train, attack and measure the adversarial robustness of deep metric learning models',
    '',
    'usage: rankshield <command> [options]      rankshield help <command>   (or rankshield <command> --help)',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([n, [s]]) => `  ${n.padEnd(width)}  ${s}`),
    '',
    'examples:',
    ...EXAMPLES.map(([cmd, what]) => `  ${cmd}\n      ${what}`),
  ].join('\n');
}

/** Every command's name and full `--help` text, in the order of `rankshield --help` (docs/cli.md is made from them). */
export async function commandUsages(): Promise<{ name: string; usage: string; options?: Command['options'] }[]> {
  return Promise.all(
    Object.entries(COMMANDS).map(async ([name, [, load]]) => {
      const c = await load();
      return { name, usage: c.usage, ...(c.options !== undefined ? { options: c.options } : {}) };
    }),
  );
}

/** The version in package.json (stated there once). */
function packageVersion(): string {
  const file = fileURLToPath(new URL('../../../package.json', import.meta.url));
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === 'help' && rest.length > 0) return main([rest[0]!, '--help']);
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    console.log(`rankshield ${packageVersion()}`);
    return 0;
  }
  const entry = COMMANDS[name];
  if (entry === undefined) {
    console.error(`rankshield: unknown command '${name}'\n\n${help()}`);
    return 2;
  }
  try {
    const cmd = await entry[1]();
    if (rest.includes('--help') || rest.includes('-h')) {
      console.log(cmd.usage);
      return 0;
    }
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`rankshield ${name}: ${e.message}\n(see: rankshield ${name} --help)`);
      return 2;
    }
    console.error(`rankshield ${name}: error: ${e instanceof Error ? e.message : String(e)}`);
    if (process.env.RANKSHIELD_DEBUG && e instanceof Error) console.error(e.stack);
    return 1;
  }
}
