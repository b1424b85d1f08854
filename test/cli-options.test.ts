// The option parser's user-facing rules: fractions for pixel budgets, old names still accepted,
// choice lists and defaults printed unambiguously, `rankshield help CMD`, and the budget flags
// `attack` and `swipe` share applied to every run of a profile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { optionLines, parseNumber, parseOptions } from '../src/cli/args.js';
import { UsageError } from '../src/cli/command.js';
import { BUDGET_OPTIONS, budgetOverride, checkBudgetFlags, withBudget } from '../src/cli/budget-options.js';
import { MAX_BATCHES_OPTION } from '../src/cli/common-options.js';
import { getProfile } from '../src/attack/profiles.js';
import { help, main } from '../src/cli/main.js';

test('numbers: decimals, exponents and fractions such as 8/255; nothing else', () => {
  assert.equal(parseNumber('0.25'), 0.25);
  assert.equal(parseNumber('1e-3'), 0.001);
  assert.equal(parseNumber('8/255'), 8 / 255);
  assert.equal(parseNumber(' 77 / 255 '), 77 / 255);
  for (const bad of ['', '1/0', '8/', '/255', '1/2/3', 'abc', 'NaN', 'Infinity']) assert.equal(parseNumber(bad), undefined, bad);
  const p = parseOptions(['--epsilon', '8/255', '--steps', '10'], BUDGET_OPTIONS);
  assert.deepEqual(budgetOverride(p), { epsilon: 8 / 255, steps: 10 });
  // An L∞ radius above 1 is refused for the L∞ ball; an L2 radius may exceed 1.
  assert.throws(
    () => checkBudgetFlags(parseOptions(['--epsilon', '300/255'], BUDGET_OPTIONS), 'linf'),
    (e: unknown) => e instanceof UsageError && /epsilon/.test(e.message),
  );
  assert.doesNotThrow(() => checkBudgetFlags(parseOptions(['--epsilon', '2'], BUDGET_OPTIONS), 'l2'));
  assert.throws(() => parseOptions(['--epsilon', 'x/255'], BUDGET_OPTIONS), /needs a number \(such as 0.5, 1e-3 or 8\/255\), got 'x\/255'/);
});

test('an old option name is still accepted, stored under the new one, and both at once is refused', () => {
  const table = { 'max-batches': MAX_BATCHES_OPTION };
  assert.equal(parseOptions(['--max-iter', '3'], table).flags.get('max-batches'), 3);
  assert.equal(parseOptions(['--max-batches', '2'], table).flags.get('max-batches'), 2);
  assert.throws(
    () => parseOptions(['--max-batches', '2', '--max-iter', '3'], table),
    (e: unknown) => e instanceof UsageError && /--max-iter is another name of --max-batches/.test(e.message),
  );
  assert.match(optionLines(table), /also accepted as --max-iter/);
});

test('usage lines: a default reads as a default, a choice list behind a value name is spelled out', () => {
  const lines = optionLines({
    source: { kind: 'string', value: 'S', choices: ['random', 'semihard'], help: 'sampler' },
    mode: { kind: 'string', choices: ['a', 'b'], help: 'the mode', default: 'a' },
  });
  assert.match(lines, /--source S\s+sampler\n\s+one of: random, semihard/);
  assert.match(lines, /--mode a\|b\s+the mode\s+\(default: a\)/);
  assert.doesNotMatch(lines, /\(a\)/);
});

test('budget flags override every run of a profile and rename it; no flags leave it untouched', () => {
  const rob28 = getProfile('rob28');
  assert.equal(withBudget(rob28, {}), rob28);
  const at8 = withBudget(rob28, { epsilon: 8 / 255, steps: 10 });
  assert.equal(at8.runs.length, rob28.runs.length);
  for (const [i, r] of at8.runs.entries()) {
    assert.equal(r.budget.epsilon, 8 / 255);
    assert.equal(r.budget.steps, 10);
    assert.equal(r.budget.alpha, rob28.runs[i]!.budget.alpha);
    assert.equal(r.attack, rob28.runs[i]!.attack);
  }
  assert.match(at8.name, /^rob28 at ε 8\/255, α 3\/255, η 10$/);
  assert.equal(rob28.runs[0]!.budget.steps, 32, 'the catalogue profile itself is not changed');
});

test("`rankshield help CMD` prints the command's usage; the top-level help shows examples", async () => {
  const printed: string[] = [];
  const log = console.log;
  console.log = (s: string) => void printed.push(s);
  try {
    assert.equal(await main(['help', 'swipe']), 0);
  } finally {
    console.log = log;
  }
  assert.match(printed.join('\n'), /^usage: rankshield swipe CKPT/);
  assert.match(printed.join('\n'), /--epsilon E/);
  assert.match(help(), /examples:\n\s+rankshield demo/);
});
