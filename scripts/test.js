#!/usr/bin/env node
// Runs the compiled node:test suites. Each file is its own process; two at a
// time matches the 2-core CI machine, and every suite pins libtorch to 1 thread.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const dir = path.join(process.cwd(), 'dist', 'test');
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.test.js'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort()
  .map((f) => path.join(dir, f));
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], {
  stdio: 'inherit',
  env: { ...process.env, RANKSHIELD_THREADS: process.env.RANKSHIELD_THREADS ?? '1' },
});
process.exit(r.status ?? 1);
