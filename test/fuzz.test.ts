// scripts/fuzz.js, briefly: a fixed seed and a 20 s budget over every parser
// target must give runs on each target and no crash or hang. The long runs
// (npm run fuzz -- --seconds 600) are for changes to the parsers.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TARGETS = ['pickle', 'torch', 'zip', 'safetensors', 'matlab', 'idx'];

interface TargetStats {
  runs: number;
  crashes: number;
  hangs: number;
}

interface FuzzSummary extends TargetStats {
  peakRssMiB: number;
  seconds: number;
  seed: number;
  targets: Record<string, TargetStats>;
  /** Where crash/hang inputs were written; null when there were none. */
  outDir: string | null;
}

/** Runs the fuzzer to completion (killed after `limitMs`) and returns its exit code and output. */
function runFuzz(args: string[], limitMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'fuzz.js'), ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('fuzz: 20 s with seed 1 finds no crash and no hang, and runs every target', { timeout: 90_000 }, async () => {
  const { code, stdout, stderr } = await runFuzz(['--seconds', '20', '--seed', '1', '--json'], 80_000);
  const lines = stdout.trim().split('\n');
  const summary = JSON.parse(lines[lines.length - 1]!) as FuzzSummary;
  assert.equal(summary.seed, 1);
  assert.equal(summary.crashes, 0, `crashes (inputs in ${summary.outDir}):\n${stderr}`);
  assert.equal(summary.hangs, 0, `hangs (inputs in ${summary.outDir}):\n${stderr}`);
  assert.equal(code, 0);
  assert.equal(summary.outDir, null, 'nothing recorded, no folder left behind');
  assert.ok(summary.runs > 0);
  assert.deepEqual(Object.keys(summary.targets).sort(), [...TARGETS].sort());
  for (const [name, t] of Object.entries(summary.targets)) {
    assert.ok(t.runs > 0, `target ${name} ran no inputs`);
    assert.equal(t.crashes + t.hangs, 0, `target ${name}`);
  }
  assert.equal(
    summary.runs,
    Object.values(summary.targets).reduce((n, t) => n + t.runs, 0),
    'totals add up',
  );
  assert.ok(summary.peakRssMiB > 0 && summary.peakRssMiB < 2048, `peak RSS ${summary.peakRssMiB} MiB`);
  assert.ok(summary.seconds >= 19 && summary.seconds < 60, `ran ${summary.seconds} s`);
  assert.match(stderr, /\[fuzz\] seed 1, 20 s/, 'progress goes to stderr');
});

test('fuzz: bad options are refused with a message and exit code 2', async () => {
  const unknown = await runFuzz(['--target', 'png', '--seconds', '1'], 20_000);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown --target 'png' \(targets: pickle, torch, zip, safetensors, matlab, idx\)/);
  const seconds = await runFuzz(['--seconds', 'soon'], 20_000);
  assert.equal(seconds.code, 2);
  assert.match(seconds.stderr, /--seconds must be a number/);
});
