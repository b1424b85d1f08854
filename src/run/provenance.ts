// Layer: run. Where a result came from, recorded beside it: the command line, the commit, the
// CPU, libtorch's threads and version, the date. Every result file a command writes for citing
// (swipe, compare, certify, reproduce) carries one, and docs/results.md prints it above each table,
// so a reader can rerun the same command on the same code.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { engineInfo, getNumThreads } from '../tensor/index.js';

export interface Provenance {
  /** The command as typed (`rankshield …`). */
  command: string;
  /** `git rev-parse --short HEAD` of the checkout, or 'unknown' outside one. */
  commit: string;
  /** CPU model and logical cores. */
  cpu: string;
  /** libtorch intra-op threads. */
  threads: number;
  libtorch: string;
  /** UTC day (YYYY-MM-DD). */
  date: string;
}

/** The commit of the checkout the code runs from ('unknown' when it is not a git checkout). */
export function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

/** The provenance of a result made now by `rankshield <argv…>`. */
export function provenance(argv: readonly string[]): Provenance {
  const cpus = os.cpus();
  return {
    command: ['rankshield', ...argv].join(' '),
    commit: gitCommit(),
    cpu: `${cpus[0]?.model ?? 'unknown CPU'} (${cpus.length} cores)`,
    threads: getNumThreads(),
    libtorch: engineInfo().libtorch.version,
    date: new Date().toISOString().slice(0, 10),
  };
}

/** One line for a report: the command, then where and how it ran. */
export function provenanceLine(p: Provenance): string {
  return `\`${p.command}\` — commit ${p.commit}, ${p.cpu}, ${p.threads} thread(s), libtorch ${p.libtorch}, ${p.date}`;
}
