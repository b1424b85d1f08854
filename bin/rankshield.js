#!/usr/bin/env node
// The `rankshield` command. The CLI is compiled TypeScript (dist/); if it is not
// there yet, say how to build it instead of failing with a module error.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const main = path.join(root, 'dist', 'src', 'cli', 'main.js');
if (!existsSync(main)) {
  console.error('rankshield is not built yet: run `npm run setup` (installs libtorch, builds the addon and the TypeScript).');
  process.exit(1);
}
const { main: run } = await import(pathToFileURL(main).href);
process.exitCode = await run(process.argv.slice(2));
