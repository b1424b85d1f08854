// The attack options are declared once, as fields of their attacks' entries: every field's flag
// is in `attack --help` (the swipe-wide ones in `swipe --help` and `compare --help` too, the
// per-run W and M not there, since a profile sets them), a value outside a field's range or
// choices is a usage error naming the flag, the flags parse into the typed options, and a trail
// stored before an option existed still counts as swiped with that option unset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ATTACK_OPTION_FIELDS,
  ATTACKS,
  METHOD_DEFAULTS,
  METHOD_NAMES,
  METHOD_SETTING_FIELDS,
  METHODS,
  methodSettings,
  perRunOptions,
  perRunSize,
  PROFILE_NAMES,
  PROFILES,
  SWIPE_WIDE_OPTION_FIELDS,
  type AttackField,
} from '../src/attack/index.js';
import { attackCommand } from '../src/cli/attack.js';
import { swipeCommand } from '../src/cli/swipe.js';
import { compareCommand } from '../src/cli/compare.js';
import { attackOptionFlags } from '../src/cli/attack-options.js';
import { parseOptions } from '../src/cli/args.js';
import { UsageError } from '../src/cli/command.js';
import { epochSwipeCurrent, type EpochSwipe, type TrailSettings } from '../src/eval/trail.js';
import type { KeptEpochStatus } from '../src/run/kept-epochs.js';

/** The flags a usage text lists (`  --name`). */
function usageFlags(usage: string): Set<string> {
  return new Set([...usage.matchAll(/^ {2}--([a-z0-9-]+)/gm)].map((m) => m[1]!));
}

test('every attack option has its flag in attack --help; the swipe-wide ones in swipe and compare --help, W and M not', () => {
  assert.ok(ATTACK_OPTION_FIELDS.length >= 6, 'the catalogue declares its options');
  const attack = usageFlags(attackCommand.usage);
  const swipe = usageFlags(swipeCommand.usage);
  const compare = usageFlags(compareCommand.usage);
  for (const f of ATTACK_OPTION_FIELDS) {
    assert.ok(attack.has(f.flag), `attack --help lacks --${f.flag} (${f.key})`);
    assert.ok(f.spec.help !== '' && attackCommand.usage.includes(f.spec.help.split('\n')[0]!), `attack --help lacks the help of ${f.key}`);
    if (f.spec.default !== undefined) assert.match(attackCommand.usage, new RegExp(`\\(default: ${f.spec.default}\\)`), `${f.key}'s default`);
  }
  for (const f of SWIPE_WIDE_OPTION_FIELDS) {
    assert.ok(swipe.has(f.flag), `swipe --help lacks --${f.flag} (${f.key})`);
    assert.ok(compare.has(f.flag), `compare --help lacks --${f.flag} (${f.key})`);
  }
  const perRun = ATTACK_OPTION_FIELDS.filter((f) => f.perRun);
  assert.deepEqual(
    perRun.map((f) => f.key),
    ['queriesPerCandidate', 'candidatesPerQuery'],
  );
  for (const f of perRun) assert.ok(!swipe.has(f.flag) && !compare.has(f.flag), `--${f.flag} is set per run by the profile`);
  // Fields shared by several attacks are one field (M of QA± and SPQA±), so one flag, one help line.
  assert.equal(attackCommand.usage.match(/^ {2}--size /gm)?.length, 1);
  assert.match(attackCommand.usage, /--size W\|M +W, queries per candidate \(CA\), or M, candidates per query \(QA, SPQA\) +\(default: 1\)/);
  // Every entry's options are catalogue fields.
  for (const a of ATTACKS) for (const f of a.options) assert.ok(ATTACK_OPTION_FIELDS.includes(f), `${a.kind}: ${f.key}`);
});

/** Values outside a field's range or choices, from its spec. */
function badValues(f: AttackField): string[] {
  const s = f.spec;
  if (s.kind === 'boolean') return [];
  if (s.choices !== undefined) return ['bogus', s.choices[0]!.toUpperCase()];
  const out = ['many'];
  if (s.min !== undefined) out.push(String(s.min - 1));
  if (s.above !== undefined) out.push(String(s.above), String(s.above - 1));
  if (s.kind === 'int') out.push('1.5');
  return out;
}

test('a flag value outside its range or choices is a usage error naming the flag, before any work', async () => {
  let checked = 0;
  for (const f of ATTACK_OPTION_FIELDS) {
    for (const bad of badValues(f)) {
      const rejects = (e: unknown): boolean => e instanceof UsageError && e.message.startsWith(`--${f.flag} `) && e.message.includes(bad);
      // The whole command, as a user types it: refused while parsing, no checkpoint opened.
      await assert.rejects(attackCommand.run(['no-such-run', '--attack', 'CA+', `--${f.flag}`, bad]), rejects, `attack --${f.flag} ${bad}`);
      if (!f.perRun) await assert.rejects(swipeCommand.run(['no-such-run', `--${f.flag}`, bad]), rejects, `swipe --${f.flag} ${bad}`);
      checked++;
    }
    if (f.spec.kind === 'boolean')
      assert.throws(
        () => parseOptions([`--${f.flag}=yes`], attackCommand.options!),
        (e: unknown) => e instanceof UsageError && e.message === `--${f.flag} takes no value`,
      );
  }
  assert.ok(checked >= 10, `${checked} bad values tried`);
  await assert.rejects(
    attackCommand.run(['x', '--attack', 'GTM', '--gtm-target', 'intented']),
    /--gtm-target must be one of reference-bug, intended, got 'intented'/,
  );
  await assert.rejects(attackCommand.run(['x', '--attack', 'SPQA+', '--xi-rate', '0']), /--xi-rate must be > 0, got 0/);
  await assert.rejects(attackCommand.run(['x', '--attack', 'CA+', '--size', '0']), /--size must be >= 1, got 0/);
});

test('the flags parse into typed options: W and M for the run, the rest for every attack of the swipe', () => {
  const p = parseOptions(
    ['--size', '5', '--gtm-target', 'intended', '--ltm-exclude-self', '--es-distance-at', 'final', '--xi-rate', '2e4', '--ca-sampling', 'local'],
    attackCommand.options!,
  );
  assert.deepEqual(attackOptionFlags(p, 'all'), {
    perRun: { queriesPerCandidate: 5, candidatesPerQuery: 5 },
    swipeWide: { caSampling: 'local', esDistanceAt: 'final', ltmExcludeSelf: true, gtmTarget: 'intended', spqaXiRate: 2e4 },
  });
  // Absent flags are absent options (the reference behaviour), so a plain swipe records `{}`.
  assert.deepEqual(attackOptionFlags(parseOptions([], swipeCommand.options!), 'swipe'), { perRun: {}, swipeWide: {} });
  assert.deepEqual(attackOptionFlags(parseOptions(['--gtm-target', 'intended'], swipeCommand.options!), 'swipe'), {
    perRun: {},
    swipeWide: { gtmTarget: 'intended' },
  });
});

test("an attack's count (W, M) is its per-run field: set by profiles and the service, read back for column names", () => {
  assert.deepEqual(perRunOptions('CA-', 3), { queriesPerCandidate: 3 });
  assert.deepEqual(perRunOptions('SPQA+', 2), { candidatesPerQuery: 2 });
  assert.deepEqual(perRunOptions('GTT', 3), {});
  assert.throws(() => perRunOptions('QA+', 0), /QA\+: candidatesPerQuery \(--size\) must be an integer ≥ 1, got 0/);
  assert.equal(perRunSize('CA+', { queriesPerCandidate: 5, candidatesPerQuery: 7 }), 5);
  assert.equal(perRunSize('SPQA-', { queriesPerCandidate: 5, candidatesPerQuery: 7 }), 7);
  assert.equal(perRunSize('QA+', {}), 1);
  assert.equal(perRunSize('TMA', { queriesPerCandidate: 5 }), 1);
});

test('search methods and profiles: the names are their lists', () => {
  assert.deepEqual(METHOD_NAMES, ['pgd', 'apgd', 'square', 'nes']);
  assert.deepEqual(
    METHOD_NAMES,
    METHODS.map((m) => m.name),
  );
  assert.deepEqual(PROFILE_NAMES, Object.keys(PROFILES));
  for (const n of PROFILE_NAMES) assert.equal(PROFILES[n].name, n);
});

test('search method settings are fields of their entries: flags in attack and swipe --help, defaults and ranges from the fields', async () => {
  // Each entry owns the settings it honours; EOT is every method's.
  assert.deepEqual(
    METHODS.map((m) => [m.name, m.settings.map((f) => f.key)]),
    [
      ['pgd', ['restarts']],
      ['apgd', ['restarts']],
      ['square', ['queries']],
      ['nes', ['samples', 'sigmaFraction']],
    ],
  );
  assert.deepEqual(
    METHOD_SETTING_FIELDS.map((f) => f.key),
    ['restarts', 'queries', 'samples', 'sigmaFraction', 'eot'],
  );
  assert.deepEqual(METHOD_DEFAULTS, { restarts: 0, queries: 100, samples: 20, sigmaFraction: 0.5, eot: 1 });
  for (const command of [attackCommand, swipeCommand]) {
    const flags = usageFlags(command.usage);
    for (const f of METHOD_SETTING_FIELDS) {
      assert.ok(flags.has(f.flag), `${command.name} --help lacks --${f.flag}`);
      assert.match(command.usage, new RegExp(`\\(default: ${f.spec.default}\\)`), `${f.key}'s default`);
    }
  }
  // Each value is checked against its field, the flag named.
  assert.throws(() => methodSettings({ samples: 3 }), /^Error: samples \(--samples\) must be an even integer ≥ 2, got 3$/);
  assert.throws(() => methodSettings({ restarts: -1 }), /restarts \(--restarts\) must be an integer ≥ 0, got -1/);
  assert.throws(() => methodSettings({ sigmaFraction: 5 }), /sigmaFraction \(--nes-sigma\) must be a number in \(0, 4\], got 5/);
  assert.throws(() => methodSettings({ eot: 0 }), /eot \(--eot\) must be an integer ≥ 1, got 0/);
  await assert.rejects(swipeCommand.run(['run', '--queries', '0']), (e: Error) => e instanceof UsageError && /--queries/.test(e.message));
});

test('a trail epoch stored when only --gtm-target existed still matches a swipe with the newer options unset', () => {
  const kept: KeptEpochStatus = { epoch: 2, dir: 'checkpoints/2', problem: null, sha256: 'ab' } as KeptEpochStatus;
  const old: TrailSettings = {
    profile: 'rob28',
    maxIter: 1,
    seed: null,
    benignRecallAt1: null,
    gtmTarget: null,
    method: null,
    methodSettings: {},
    transferFrom: null,
  };
  const stored = { epoch: 2, checkpoint: { path: 'checkpoints/2', sha256: 'ab' }, settings: old, result: { intervals: {} } } as unknown as EpochSwipe;
  const now: TrailSettings = { ...old, caSampling: null, esDistanceAt: null, ltmExcludeSelf: null, spqaXiRate: null };
  assert.ok(epochSwipeCurrent(stored, kept, now));
  assert.ok(epochSwipeCurrent(stored, kept, { ...now, gtmTarget: null }));
  assert.ok(!epochSwipeCurrent(stored, kept, { ...now, ltmExcludeSelf: true }), 'another option value: swiped again');
  assert.ok(!epochSwipeCurrent(stored, kept, { ...now, gtmTarget: 'intended' }));
  assert.ok(!epochSwipeCurrent(stored, kept, { ...now, seed: 3 }));
});
