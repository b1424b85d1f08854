// Layer: serve. `rankshield serve` put together: what is served (a checkpoint,
// or a TorchScript file with its dataset), the workers (the first embeds the
// gallery and computes the neighbour table, progress on stderr), then the HTTP
// server on host:port. Resolves once it listens; `close` stops it all.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { indicesByLabel } from '../data/index.js';
import type { MetricName } from '../metric/metric.js';
import { readCheckpointInfo, resolveCheckpointDir } from '../run/checkpoint.js';
import { buildApp, type WebRoots } from './app.js';
import { LIMITS } from './limits.js';
import { Lru } from './lru.js';
import { JobQueue } from './queue.js';
import { openGallery } from './source.js';
import type { ServeContext } from './context.js';
import type { WorkerSpec } from './protocol.js';

/** The package's root folder (dist/src/serve/ → three up), where package.json, src/web/ and dist/ are. */
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The explorer page's static files: its page and style sheet, and the modules the build compiled. */
export const WEB_ROOTS: WebRoots = { pages: path.join(PACKAGE_ROOT, 'src', 'web'), modules: path.join(PACKAGE_ROOT, 'dist', 'src', 'web') };

export interface ServeOptions {
  /** A checkpoint, or `modelFile` with `dataset` (and `metric`). */
  checkpoint?: string;
  modelFile?: string;
  dataset?: string;
  metric?: MetricName;
  root?: string;
  host: string;
  port: number;
  token: string | null;
  /** Run directories listed by /api/runs (default: the checkpoint's parent; none for a model file). */
  runs?: string;
  concurrency: number;
  maxQueued: number;
  device: string;
  maxGallery?: number;
  progress: boolean;
}

export interface RunningServer {
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  close(): Promise<void>;
}

/** Config fields that hold file paths, shown by their file names only. */
const PATH_FIELDS = ['modelFile', 'pretrained'];

export async function startServer(o: ServeOptions): Promise<RunningServer> {
  let spec: WorkerSpec;
  let served: Pick<ServeContext, 'checkpoint' | 'config' | 'storedMetrics'>;
  let runsDir: string | null;
  const base = { root: o.root, maxGallery: o.maxGallery, device: o.device, progress: o.progress };
  if (o.checkpoint !== undefined) {
    const dir = resolveCheckpointDir(o.checkpoint);
    const info = readCheckpointInfo(dir);
    spec = { checkpoint: dir, dataset: info.config.dataset, metric: info.config.metric, ...base };
    const config: Record<string, unknown> = { ...info.config };
    for (const f of PATH_FIELDS) if (typeof config[f] === 'string') config[f] = path.basename(config[f]);
    served = { checkpoint: path.basename(dir), config, storedMetrics: info.metrics };
    runsDir = o.runs ?? path.dirname(path.resolve(dir));
  } else {
    if (o.modelFile === undefined || o.dataset === undefined) throw new Error('serve: give a checkpoint, or a model file with its dataset');
    spec = { modelFile: path.resolve(o.modelFile), dataset: o.dataset, metric: o.metric ?? 'N', ...base };
    served = { checkpoint: path.basename(o.modelFile), config: { model: 'torchscript', dataset: o.dataset, metric: spec.metric }, storedMetrics: null };
    runsDir = o.runs ?? null;
  }
  const ds = await openGallery(spec);
  const queue = new JobQueue(spec, o.concurrency, o.maxQueued);
  try {
    const { neighbours } = await queue.start();
    const byLabel = indicesByLabel(ds.labels);
    const ctx: ServeContext = {
      version: (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version,
      started: performance.now(),
      ds,
      shape: [ds.channels, ds.height, ds.width],
      dataset: ds.name,
      metric: spec.metric,
      ...served,
      table: neighbours,
      byLabel,
      classes: [...byLabel.keys()].sort((a, b) => a - b),
      queue,
      runsDir: runsDir === null ? null : path.resolve(runsDir),
      token: o.token,
      results: new Lru(LIMITS.keptResults),
      galleryPngs: new Lru(LIMITS.cachedImages),
    };
    const app = await buildApp(ctx, WEB_ROOTS);
    await app.listen({ host: o.host, port: o.port });
    const address = app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : o.port;
    const host = o.host.includes(':') ? `[${o.host}]` : o.host;
    return {
      url: `http://${host}:${port}`,
      close: async () => {
        queue.close();
        await app.close();
      },
    };
  } catch (e) {
    queue.close();
    throw e;
  }
}
