// A real checkpoint in seconds, for tests that serve or load one: c2f2 on
// Fashion-MNIST trained for a few batches of one epoch, then evaluated (so it
// carries benign metrics), in `<parent>/<name>/`.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { train } from '../../src/train/trainer.js';
import { defaultConfig } from '../../src/train/config.js';

/** Trains the tiny run and returns its directory. */
export async function trainTinyRun(parent: string, name = 'tiny-fashion'): Promise<string> {
  const outDir = path.join(parent, name);
  mkdirSync(parent, { recursive: true });
  await train({ config: { ...defaultConfig('fashion'), epochs: 1, batchPairs: 32, maxBatches: 4 }, outDir });
  return outDir;
}
