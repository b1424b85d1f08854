// Child processes for the launcher and fault tests: spawn with captured
// output, wait for a line or a file to appear, find a rank by its environment,
// and read a run's model SHA-256 from its checkpoint.json.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** bin/rankshield.js of this checkout (tests run from dist/test/helpers). */
export const CLI = path.join(here, '..', '..', '..', 'bin', 'rankshield.js');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

export interface Child {
  pid: number;
  exit: Promise<Exit>;
  /** Everything written to stdout and stderr so far. */
  output: () => string;
  /** Whether it is still running. */
  running: () => boolean;
  kill: (s: NodeJS.Signals) => void;
}

/** Starts `cmd args` with `env` added to this process's environment, capturing its output. */
export function start(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Child {
  const t0 = Date.now();
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  let running = true;
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  // 'close', not 'exit': the output is complete then.
  const exit = new Promise<Exit>((resolve) =>
    child.on('close', (code, signal) => {
      running = false;
      resolve({ code, signal, stdout, stderr, seconds: (Date.now() - t0) / 1000 });
    }),
  );
  return {
    pid: child.pid!,
    exit,
    running: () => running,
    output: () => stdout + stderr,
    kill: (s) => void child.kill(s),
  };
}

/** `node bin/rankshield.js args…` */
export const rankshield = (args: readonly string[], env: NodeJS.ProcessEnv = {}): Child => start(process.execPath, [CLI, ...args], env);

/**
 * Resolves once `check()` is true (polled every 100 ms); rejects after `timeoutS`, or as soon as one
 * of `children` has ended, naming `what` (and showing the ended child's output).
 */
export async function waitUntil(what: string, check: () => boolean, timeoutS = 300, children: readonly Child[] = []): Promise<void> {
  const until = Date.now() + timeoutS * 1000;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutS} s waiting for ${what}`);
    const ended = children.find((c) => !c.running());
    if (ended !== undefined) throw new Error(`process ${ended.pid} ended while waiting for ${what}:\n${ended.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The number of training steps log.jsonl of `run` records so far. */
export function loggedSteps(run: string): number {
  const log = path.join(run, 'log.jsonl');
  return existsSync(log) ? (readFileSync(log, 'utf8').match(/"event":"step"/g) ?? []).length : 0;
}

/** The pids of the processes whose environment holds every one of `vars` (NAME=value). */
export function pidsWithEnv(vars: readonly string[]): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      if (vars.every((v) => env.includes(v))) out.push(Number(entry));
    } catch {
      // the process ended while we looked, or is not ours to read
    }
  }
  return out;
}

/** The model SHA-256 recorded in a run's checkpoint.json. */
export const modelSha = (run: string): string =>
  (JSON.parse(readFileSync(path.join(run, 'checkpoint.json'), 'utf8')) as { files: { model: { sha256: string } } }).files.model.sha256;

/** The last line of stdout as JSON (the commands' --json result). */
export const lastJson = (text: string): Record<string, unknown> => JSON.parse(text.trim().split('\n').pop()!) as Record<string, unknown>;
