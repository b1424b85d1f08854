// Layer: cli. `rankshield serve CKPT`: the HTTP service and explorer page
// (src/serve/, docs/service.md). Flags are parsed with node's util.parseArgs
// (strict: an unknown flag is an error); every check that can refuse a start
// runs before the model and the data are loaded, the host and token checks
// before libtorch is (the modules that load it are imported after them).
import { parseArgs } from 'node:util';
import type { MetricName } from '../metric/distance.js';
import { LIMITS, SERVE_DEFAULTS } from '../serve/limits.js';
import type { ServeOptions } from '../serve/server.js';
import { UsageError, type Command } from './command.js';

const OPTIONS = {
  dataset: { type: 'string' },
  metric: { type: 'string' },
  root: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  token: { type: 'string' },
  'model-file': { type: 'string' },
  runs: { type: 'string' },
  concurrency: { type: 'string' },
  'max-queued': { type: 'string' },
  'max-gallery': { type: 'string' },
  device: { type: 'string' },
  quiet: { type: 'boolean' },
} as const;

/** An integer flag in [min, max], or a usage error naming it. */
function intFlag(name: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(v) || v < min || v > max) throw new UsageError(`--${name} must be an integer in [${min}, ${max}], got '${raw}'`);
  return v;
}

/** Whether a host name or address only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1';
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'HTTP service and explorer page: search, attacks and swipes on a checkpoint',
  usage: `usage: rankshield serve CKPT [--port ${SERVE_DEFAULTS.port}] [--host ${SERVE_DEFAULTS.host}] [--token T] [--runs DIR]
                       [--concurrency N] [--max-queued N] [--max-gallery N] [--root DIR] [--device D] [--quiet]
       rankshield serve --model-file FILE.pt --dataset NAME [--metric N|E|C] [...]

Serves the checkpoint's test split as a retrieval gallery over HTTP (JSON API under /api/, the
explorer page at /): search by gallery id or uploaded image, any of the eleven attacks on one
image, swipes as background jobs with progress events. API, security model and limits:
docs/service.md. At start-up the first worker embeds the gallery and finds every image's
${LIMITS.maxK} nearest neighbours (progress on stderr); then the URL is printed and the server
runs until Ctrl-C / SIGTERM.
  --port N          TCP port (${SERVE_DEFAULTS.port}; 0 = any free port, printed)
  --host H          address to listen on (${SERVE_DEFAULTS.host}); anything but a loopback address
                    needs --token
  --token T         bearer token every /api request must send (Authorization: Bearer T), at least
                    ${LIMITS.minTokenLength} characters; or set RANKSHIELD_TOKEN (keeps it out of the process list)
  --runs DIR        run directories GET /api/runs lists, with their plots (default: the
                    checkpoint's parent directory; none with --model-file)
  --concurrency N   worker processes, each with the model loaded: jobs that run at once (${SERVE_DEFAULTS.concurrency})
  --max-queued N    jobs that may wait for a worker; one more is refused with 429 (${SERVE_DEFAULTS.maxQueued})
  --max-gallery N   serve only the first N test images (quick trials, tests)
  --root DIR        the dataset's root directory (IDX files for mnist/fashion, images for cub/cars/sop)
  --device D        cpu | cuda | cuda:N: where the workers run the model   (cpu)
  --quiet           no progress bars at start-up
instead of CKPT, a TorchScript model (torch.jit.save; N×C×H×W in [0, 1] → N×D):
  --model-file FILE the model; normalisation, if any, inside it
  --dataset NAME    its test split is the gallery (required with --model-file)
  --metric N|E|C    distance on its embeddings   (N)`,
  async run(argv) {
    let values: { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };
    let positionals: string[];
    try {
      ({ values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true }));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const modelFile = values['model-file'];
    if (modelFile === undefined) {
      if (positionals.length !== 1) throw new UsageError('expected exactly one checkpoint path (or --model-file FILE --dataset NAME)');
      for (const f of ['dataset', 'metric'] as const) if (values[f] !== undefined) throw new UsageError(`--${f} goes with --model-file (a checkpoint names its own)`);
    } else {
      if (positionals.length !== 0) throw new UsageError('give either a checkpoint or --model-file, not both');
      if (values.dataset === undefined) throw new UsageError('--model-file needs --dataset NAME (its test split is the gallery)');
    }
    const host = values.host ?? SERVE_DEFAULTS.host;
    const token = values.token ?? process.env.RANKSHIELD_TOKEN ?? null;
    if (token !== null && token.length < LIMITS.minTokenLength) throw new UsageError(`the token must have at least ${LIMITS.minTokenLength} characters (e.g. openssl rand -hex 16)`);
    if (!isLoopback(host) && token === null) {
      throw new UsageError(`refusing to listen on ${host} without a token: anyone who can reach it could run attacks; give --token T (or RANKSHIELD_TOKEN), or keep the default host ${SERVE_DEFAULTS.host}`);
    }
    const port = intFlag('port', values.port, 0, 65535) ?? SERVE_DEFAULTS.port;
    const concurrency = intFlag('concurrency', values.concurrency, 1, 64) ?? SERVE_DEFAULTS.concurrency;
    const maxQueued = intFlag('max-queued', values['max-queued'], 0, 100_000) ?? SERVE_DEFAULTS.maxQueued;
    const maxGallery = intFlag('max-gallery', values['max-gallery'], 2, 2 ** 31 - 1);
    const [{ parseMetric }, { parseDevice }, { startServer }] = await Promise.all([import('../metric/distance.js'), import('../tensor/index.js'), import('../serve/server.js')]);
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
      progress: values.quiet !== true,
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
