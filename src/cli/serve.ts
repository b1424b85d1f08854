// Layer: cli. `rankshield serve CKPT`: the HTTP service and explorer page
// (src/serve/, docs/service.md). Every check that can refuse a start runs
// before the model and the data are loaded, the host and token checks before
// libtorch is (the modules that load it, the metric catalogue included, are
// imported after them).
import type { MetricName } from '../metric/metric.js';
import { LIMITS, SERVE_DEFAULTS } from '../serve/limits.js';
import type { ServeOptions } from '../serve/server.js';
import { UsageError, type Command } from './command.js';
import { flagBool, flagNumber, flagString, mergeSections, parseOptions, usageText, type OptionSection } from '../util/options.js';
import { ROOT_OPTION, THREADS_OPTION } from './common-options.js';

const SECTIONS: readonly OptionSection[] = [
  {
    options: {
      port: { kind: 'int', value: 'N', min: 0, max: 65535, help: 'TCP port (0 = any free port, printed)', default: String(SERVE_DEFAULTS.port) },
      host: { kind: 'string', value: 'H', help: 'address to listen on; anything but a loopback address needs --token', default: SERVE_DEFAULTS.host },
      token: {
        kind: 'string',
        value: 'T',
        help: `bearer token every /api request must send (Authorization: Bearer T), at least\n${LIMITS.minTokenLength} characters; or set RANKSHIELD_TOKEN (keeps it out of the process list)`,
      },
      runs: {
        kind: 'string',
        value: 'DIR',
        help: "run directories GET /api/runs lists, with their plots (default: the\ncheckpoint's parent directory; none with --model-file)",
      },
      concurrency: {
        kind: 'int',
        value: 'N',
        min: 1,
        max: 64,
        help: 'worker processes, each with the model loaded: jobs that run at once',
        default: String(SERVE_DEFAULTS.concurrency),
      },
      'max-queued': {
        kind: 'int',
        value: 'N',
        min: 0,
        max: 100_000,
        help: 'jobs that may wait for a worker; one more is refused with 429',
        default: String(SERVE_DEFAULTS.maxQueued),
      },
      'max-gallery': { kind: 'int', value: 'N', min: 2, help: 'serve only the first N test images (quick trials, tests)' },
      ...ROOT_OPTION,
      device: { kind: 'string', value: 'D', help: 'cpu | cuda | cuda:N: where the workers run the model', default: 'cpu' },
      threads: {
        ...THREADS_OPTION.threads,
        help: 'libtorch intra-op threads of each worker',
        default: 'the cores shared among the workers; RANKSHIELD_THREADS',
      },
      quiet: { kind: 'boolean', help: 'no progress bars at start-up' },
    },
  },
  {
    title: 'instead of CKPT, a TorchScript model (torch.jit.save; N×C×H×W in [0, 1] → N×D)',
    options: {
      'model-file': { kind: 'string', value: 'FILE', help: 'the model; normalisation, if any, inside it' },
      dataset: { kind: 'string', value: 'NAME', help: 'its test split is the gallery (required with --model-file)' },
      // Checked after the start-up checks: the metric catalogue loads libtorch.
      metric: { kind: 'string', value: 'N|E|C', help: 'distance on its embeddings', default: 'N' },
    },
  },
];

/** Whether a host name or address only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1';
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'HTTP service and explorer page: search, attacks and swipes on a checkpoint',
  usage: usageText(
    ['rankshield serve CKPT [options]', 'rankshield serve --model-file FILE.pt --dataset NAME [options]'],
    `Serves the checkpoint's test split as a retrieval gallery over HTTP (JSON API under /api/, the
explorer page at /): search by gallery id or uploaded image, any of the eleven attacks on one
image, swipes as background jobs with progress events. API, security model and limits:
docs/service.md. At start-up the first worker embeds the gallery and finds every image's
${LIMITS.maxK} nearest neighbours (progress on stderr); then the URL is printed and the server
runs until Ctrl-C / SIGTERM.`,
    SECTIONS,
  ),
  options: mergeSections(SECTIONS),
  async run(argv) {
    const p = parseOptions(argv, this.options!);
    const positionals = p.positionals;
    const values = {
      dataset: flagString(p, 'dataset'),
      metric: flagString(p, 'metric'),
      root: flagString(p, 'root'),
      host: flagString(p, 'host'),
      token: flagString(p, 'token'),
      'model-file': flagString(p, 'model-file'),
      runs: flagString(p, 'runs'),
      device: flagString(p, 'device'),
    };
    const modelFile = values['model-file'];
    if (modelFile === undefined) {
      if (positionals.length !== 1) throw new UsageError('expected exactly one checkpoint path (or --model-file FILE --dataset NAME)');
      for (const f of ['dataset', 'metric'] as const)
        if (values[f] !== undefined) throw new UsageError(`--${f} goes with --model-file (a checkpoint names its own)`);
    } else {
      if (positionals.length !== 0) throw new UsageError('give either a checkpoint or --model-file, not both');
      if (values.dataset === undefined) throw new UsageError('--model-file needs --dataset NAME (its test split is the gallery)');
    }
    const host = values.host ?? SERVE_DEFAULTS.host;
    const token = values.token ?? process.env.RANKSHIELD_TOKEN ?? null;
    if (token !== null && token.length < LIMITS.minTokenLength)
      throw new UsageError(`the token must have at least ${LIMITS.minTokenLength} characters (e.g. openssl rand -hex 16)`);
    if (!isLoopback(host) && token === null) {
      throw new UsageError(
        `refusing to listen on ${host} without a token: anyone who can reach it could run attacks; give --token T (or RANKSHIELD_TOKEN), or keep the default host ${SERVE_DEFAULTS.host}`,
      );
    }
    const port = flagNumber(p, 'port') ?? SERVE_DEFAULTS.port;
    const concurrency = flagNumber(p, 'concurrency') ?? SERVE_DEFAULTS.concurrency;
    const maxQueued = flagNumber(p, 'max-queued') ?? SERVE_DEFAULTS.maxQueued;
    const maxGallery = flagNumber(p, 'max-gallery');
    // The workers read it from their environment (src/serve/pool.ts); the server process itself computes nothing.
    const threads = flagNumber(p, 'threads');
    if (threads !== undefined) process.env.RANKSHIELD_THREADS = String(threads);
    const [{ parseMetric }, { parseDevice }, { startServer }] = await Promise.all([
      import('../metric/metric.js'),
      import('../tensor/index.js'),
      import('../serve/server.js'),
    ]);
    const device = values.device ?? 'cpu';
    let metric: MetricName | undefined;
    try {
      metric = values.metric === undefined ? undefined : parseMetric(values.metric);
      parseDevice(device);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const options: ServeOptions = {
      checkpoint: positionals[0],
      modelFile,
      dataset: values.dataset,
      metric,
      root: values.root,
      host,
      port,
      token,
      runs: values.runs,
      concurrency,
      maxQueued,
      maxGallery,
      device,
      progress: !flagBool(p, 'quiet'),
    };
    const server = await startServer(options);
    console.log(`rankshield serve: listening on ${server.url} (${token === null ? 'no token' : 'bearer token required'}; Ctrl-C stops)`);
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    });
    process.stderr.write(`rankshield serve: ${signal}, stopping\n`);
    await server.close();
    return 0;
  },
};
