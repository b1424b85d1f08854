// The defense catalogue (src/defense/entries/): every entry's CLI options and JSON schema come
// from one field list and agree (fields, ranges, choices); each schema round-trips its configs;
// `train --help` lists every defense flag; and what the CLI makes of defense flags and
// shorthands — resolved config (key order included), its re-read JSON, paper name, model suffix
// and margin — equals what it made before the catalogue was split into entries (the literals below).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseOptions } from '../src/cli/args.js';
import { trainCommand, trainConfigOf } from '../src/cli/train.js';
import { DEFENSES, DEFENSE_KINDS, type DefenseOption, defenseConfigSchema, describeDefense, modelSuffix } from '../src/defense/registry.js';

/** Whether the CLI's parser accepts `--flag value` for an option. */
function cliAccepts(o: DefenseOption, value: number | string): boolean {
  try {
    parseOptions([`--${o.flag}`, String(value)], { [o.flag]: o });
    return true;
  } catch {
    return false;
  }
}

/** A value every option's CLI check and schema accept (the bounds' own, or the first choice). */
function validValue(o: DefenseOption): string | number | boolean {
  if (o.kind === 'boolean') return true;
  if (o.choices !== undefined) return o.choices[0]!;
  if (o.parse !== undefined) return o.parse('0.5');
  if (o.min !== undefined) return o.min;
  if (o.max !== undefined) return o.max;
  return (o.above ?? 0) + 1;
}

/** The smallest config of an entry: its kind and its required fields. */
function minimal(kind: string): Record<string, unknown> {
  const e = DEFENSES[kind as keyof typeof DEFENSES];
  const fields: Record<string, { required?: true }> = e.fields;
  return Object.fromEntries([['kind', kind], ...e.options.filter((o) => fields[o.field]!.required).map((o) => [o.field, validValue(o)])]);
}

test('every entry: one field list makes its options and its schema (a flag for every JSON field but kind, the same ranges and choices)', () => {
  assert.equal(new Set(DEFENSE_KINDS).size, DEFENSE_KINDS.length, 'one entry per kind');
  for (const kind of DEFENSE_KINDS) {
    const e = DEFENSES[kind];
    assert.equal(e.kind, kind);
    const shape = Object.keys(e.schema.shape).filter((k) => k !== 'kind');
    assert.deepEqual(
      e.options.map((o) => o.field),
      shape,
      `${kind}: option fields = schema fields, in order`,
    );
    assert.deepEqual(Object.keys(e.fields), shape, `${kind}: the field list is the schema's`);
    assert.equal(new Set(e.options.map((o) => o.flag)).size, e.options.length, `${kind}: one flag per field`);
    assert.ok(e.schema.safeParse(minimal(kind)).success, `${kind}: its minimal config`);
    const withField = (field: string, v: unknown) => e.schema.safeParse({ ...minimal(kind), [field]: v }).success;
    for (const o of e.options) {
      const at = `${kind} --${o.flag}`;
      // Required exactly when the field says so.
      const { [o.field]: _, ...without } = minimal(kind);
      assert.equal(
        e.schema.safeParse(without).success,
        !(e.fields as Record<string, { required?: true }>)[o.field]!.required,
        `${at}: optional unless required`,
      );
      if (o.kind === 'boolean') {
        assert.ok(withField(o.field, true) && withField(o.field, false) && !withField(o.field, 'yes'), `${at}: a boolean`);
        continue;
      }
      if (o.choices !== undefined) {
        for (const c of o.choices) assert.ok(cliAccepts(o, c) && withField(o.field, c), `${at} ${c}: both accept it`);
        assert.ok(!cliAccepts(o, 'no-such-choice') && !withField(o.field, 'no-such-choice'), `${at}: both refuse a name that is not a choice`);
        continue;
      }
      if (o.kind === 'string') {
        // A parsed value (HM's destination): what the flag's parse makes of a name or a number, the schema decides.
        assert.ok(o.parse !== undefined, `${at}: a free string field parses its flag`);
        assert.ok(withField(o.field, o.parse!('semihard')) && withField(o.field, o.parse!('lga')) && withField(o.field, o.parse!('-0.5')), at);
        assert.ok(!withField(o.field, o.parse!('5')) && !withField(o.field, o.parse!('nowhere')), `${at}: out of range or unknown`);
        continue;
      }
      // Numbers: every probe around the bounds is accepted by both or refused by both.
      const probes = [o.min, o.above, o.max, 1, 0.5, -1, 1e6].filter((v): v is number => v !== undefined).flatMap((v) => [v, v - 1e-3, v + 1e-3, v + 1]);
      for (const v of probes) assert.equal(withField(o.field, v), cliAccepts(o, v), `${at} ${v}: the CLI and the schema agree`);
      if (o.kind === 'int')
        assert.ok(!withField(o.field, (validValue(o) as number) + 0.5) && !cliAccepts(o, (validValue(o) as number) + 0.5), `${at}: integers only`);
    }
    assert.ok(!e.schema.safeParse({ ...minimal(kind), unknownField: 1 }).success, `${kind}: unknown fields refused`);
  }
});

test('a flag shared by several defenses is one option (the CLI shows one spec per flag)', () => {
  const byFlag = new Map<string, string>();
  for (const kind of DEFENSE_KINDS)
    for (const o of DEFENSES[kind].options) {
      const spec = JSON.stringify({ ...o, parse: o.parse !== undefined });
      assert.equal(byFlag.get(o.flag) ?? spec, spec, `--${o.flag} of ${kind} differs from another defense's`);
      byFlag.set(o.flag, spec);
    }
});

test("every entry's schema round-trips its configs, and the catalogue's schema each entry's", () => {
  for (const kind of DEFENSE_KINDS) {
    const e = DEFENSES[kind];
    const full = { ...minimal(kind), ...Object.fromEntries(e.options.map((o) => [o.field, validValue(o)])) };
    for (const c of [minimal(kind), full]) {
      const once = e.schema.parse(c);
      assert.deepEqual(once, c, `${kind}: parse keeps every field`);
      assert.deepEqual(e.schema.parse(JSON.parse(JSON.stringify(once))), once, `${kind}: through JSON`);
      assert.deepEqual(defenseConfigSchema.parse(c), once, `${kind}: the catalogue's schema is the entry's`);
    }
  }
  assert.ok(!defenseConfigSchema.safeParse({ kind: 'no-such-defense' }).success);
});

test('`train --help` lists every defense, every defense flag and its help', () => {
  const usage = trainCommand.usage;
  for (const kind of DEFENSE_KINDS) {
    assert.ok(usage.includes(`${kind}: ${DEFENSES[kind].summary}`), `--defense ${kind}`);
    for (const o of DEFENSES[kind].options) {
      assert.match(usage, new RegExp(`^  --${o.flag}\\b`, 'm'), `--${o.flag} (${kind})`);
      assert.ok(usage.includes(o.help.split('\n')[0]!), `--${o.flag}: its help`);
      if (o.default !== undefined) assert.ok(usage.includes(`(default: ${o.default})`), `--${o.flag}: its default`);
    }
  }
});

/** What `train` made of defense flags and shorthands before the catalogue was split into entries (key order included). */
const BEFORE: readonly (
  | { argv: string; resolved: string; reread: string; name: string; suffix: string | null; margin: number }
  | { argv: string; error: string }
)[] = [
  {
    argv: '--dataset fashion --defense none',
    resolved: '{"kind":"none"}',
    reread: '{"kind":"none"}',
    name: 'N/A',
    suffix: '',
    margin: 0.2,
  },
  {
    argv: '--dataset fashion --defense est',
    resolved: '{"kind":"est","epsilon":0.30196078431372547,"alpha":0.011764705882352941,"steps":32}',
    reread: '{"kind":"est","steps":32,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'EST',
    suffix: 'd',
    margin: 0.2,
  },
  {
    argv: '--dataset fashion --defense est --pgd-steps 1',
    resolved: '{"kind":"est","steps":1,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    reread: '{"kind":"est","steps":1,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'EST',
    suffix: 'df',
    margin: 0.2,
  },
  {
    argv: '--dataset fashion --defense est --epsilon 8/255 --alpha 2/255',
    resolved: '{"kind":"est","epsilon":0.03137254901960784,"alpha":0.00784313725490196,"steps":32}',
    reread: '{"kind":"est","steps":32,"epsilon":0.03137254901960784,"alpha":0.00784313725490196}',
    name: 'EST',
    suffix: 'd',
    margin: 0.2,
  },
  {
    argv: '--dataset fashion --defense act',
    resolved: '{"kind":"act","epsilon":0.30196078431372547,"alpha":0.011764705882352941,"steps":32}',
    reread: '{"kind":"act","steps":32,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'ACT',
    suffix: 'p',
    margin: 0.2,
  },
  {
    argv: '--dataset fashion --defense act --adversarial-probability 0.5',
    resolved: '{"kind":"act","probability":0.5,"epsilon":0.30196078431372547,"alpha":0.011764705882352941,"steps":32}',
    reread: '{"kind":"act","probability":0.5,"steps":32,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'ACT-50%',
    suffix: 'px',
    margin: 0.2,
  },
  {
    argv: '--dataset fashion --defense act --pgd-steps 3 --epsilon 0.1',
    resolved: '{"kind":"act","steps":3,"epsilon":0.1,"alpha":0.011764705882352941}',
    reread: '{"kind":"act","steps":3,"epsilon":0.1,"alpha":0.011764705882352941}',
    name: 'ACT',
    suffix: null,
    margin: 0.2,
  },
  {
    argv: '--dataset fashion --defense hm --source random --destination semihard',
    resolved:
      '{"kind":"hm","source":"random","destination":"semihard","ics":0,"skipSatisfied":false,"epsilon":0.30196078431372547,"alpha":0.011764705882352941,"steps":32}',
    reread:
      '{"kind":"hm","source":"random","destination":"semihard","ics":0,"skipSatisfied":false,"steps":32,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'HM[R,M]',
    suffix: 'hmetrm',
    margin: 0.2,
  },
  {
    argv: '--dataset fashion --defense hm --source semihard --destination lga --ics 0.5',
    resolved:
      '{"kind":"hm","source":"semihard","destination":"lga","ics":0.5,"gradualBase":"semihard","skipSatisfied":false,"epsilon":0.30196078431372547,"alpha":0.011764705882352941,"steps":32}',
    reread:
      '{"kind":"hm","source":"semihard","destination":"lga","gradualBase":"semihard","ics":0.5,"skipSatisfied":false,"steps":32,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'HM[M,g_LGA]&ICS',
    suffix: 'ghmetmmi',
    margin: 0.2,
  },
  {
    argv: '--dataset fashion --defense hm --source random --destination -0.5 --skip-satisfied',
    resolved:
      '{"kind":"hm","source":"random","destination":-0.5,"skipSatisfied":true,"ics":0,"epsilon":0.30196078431372547,"alpha":0.011764705882352941,"steps":32}',
    reread:
      '{"kind":"hm","source":"random","destination":-0.5,"ics":0,"skipSatisfied":true,"steps":32,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'HM[R,-0.5]',
    suffix: null,
    margin: 0.2,
  },
  {
    argv: '--dataset fashion --defense hm --source softhard --destination gB --gradual-base distance --pgd-steps 4',
    resolved:
      '{"kind":"hm","source":"softhard","destination":"gB","gradualBase":"distance","steps":4,"ics":0,"skipSatisfied":false,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    reread:
      '{"kind":"hm","source":"softhard","destination":"gB","gradualBase":"distance","ics":0,"skipSatisfied":false,"steps":4,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'HM[S,g_gB]',
    suffix: null,
    margin: 0.2,
  },
  {
    argv: '--dataset fashion --defense catride --lambda 3',
    resolved: '{"kind":"catride","lambda":3,"weighting":"softmax","mode":"alternate","epsilon":0.30196078431372547,"alpha":0.011764705882352941,"steps":16}',
    reread: '{"kind":"catride","lambda":3,"weighting":"softmax","mode":"alternate","steps":16,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'CA-TRIDE',
    suffix: 'p',
    margin: 0.2,
  },
  {
    argv: '--dataset fashion --defense catride',
    error:
      "CA-TRIDE on fashion needs λ: it is published for cub (10), cars (9.5) and sop (2) only; give --lambda L, or --lambda-from RUN to take it from an undefended run's entanglement (eval --entanglement shows it)",
  },
  {
    argv: '--dataset fashion --defense catride --lambda 3 --catride-mode anp --catride-weighting softmin --pgd-steps 2',
    resolved: '{"kind":"catride","lambda":3,"weighting":"softmin","mode":"anp","steps":2,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    reread: '{"kind":"catride","lambda":3,"weighting":"softmin","mode":"anp","steps":2,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'CA-ANP',
    suffix: null,
    margin: 0.2,
  },
  {
    argv: '--dataset fashion --defense amd',
    resolved: '{"kind":"amd","epsilon":0.30196078431372547,"alpha":0.011764705882352941,"steps":32}',
    reread: '{"kind":"amd","steps":32,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'AMD',
    suffix: 'amd',
    margin: 0.2,
  },
  {
    argv: '--dataset fashion --defense amd --pgd-steps 5',
    resolved: '{"kind":"amd","steps":5,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    reread: '{"kind":"amd","steps":5,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'AMD',
    suffix: null,
    margin: 0.2,
  },
  {
    argv: '--dataset fashion --defense ramd',
    resolved: '{"kind":"ramd","epsilon":0.30196078431372547,"alpha":0.011764705882352941,"steps":32}',
    reread: '{"kind":"ramd","steps":32,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'RAMD',
    suffix: 'ramd',
    margin: 0.2,
  },
  {
    argv: '--dataset fashion --defense ses',
    resolved: '{"kind":"ses","epsilon":0.30196078431372547,"alpha":0.011764705882352941,"steps":32}',
    reread: '{"kind":"ses","steps":32,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'SES',
    suffix: 'e',
    margin: 0.2,
  },
  {
    argv: '--dataset fashion --defense ses --alpha 0.01',
    resolved: '{"kind":"ses","alpha":0.01,"epsilon":0.30196078431372547,"steps":32}',
    reread: '{"kind":"ses","steps":32,"epsilon":0.30196078431372547,"alpha":0.01}',
    name: 'SES',
    suffix: 'e',
    margin: 0.2,
  },
  {
    argv: '--dataset fashion --defense rest',
    resolved: '{"kind":"rest","epsilon":0.30196078431372547,"alpha":0.011764705882352941,"steps":32}',
    reread: '{"kind":"rest","steps":32,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'REST',
    suffix: 'r',
    margin: 0.2,
  },
  {
    argv: '--dataset fashion --defense free --free-base none',
    resolved: '{"kind":"free","base":"none","replays":4,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    reread: '{"kind":"free","base":"none","replays":4,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'FreeAT[none]',
    suffix: 'fatnone',
    margin: 0.2,
  },
  {
    argv: '--dataset fashion --defense free --free-base amd --replays 2 --epsilon 4/255',
    resolved: '{"kind":"free","base":"amd","replays":2,"epsilon":0.01568627450980392,"alpha":0.011764705882352941}',
    reread: '{"kind":"free","base":"amd","replays":2,"epsilon":0.01568627450980392,"alpha":0.011764705882352941}',
    name: 'FreeAT[amd]',
    suffix: null,
    margin: 0.2,
  },
  {
    argv: '--dataset fashion --defense free --free-base hm --source random --destination lga',
    resolved:
      '{"kind":"free","base":"hm","source":"random","destination":"lga","replays":4,"epsilon":0.30196078431372547,"alpha":0.011764705882352941,"gradualBase":"semihard","ics":0}',
    reread:
      '{"kind":"free","base":"hm","replays":4,"source":"random","destination":"lga","gradualBase":"semihard","ics":0,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'HM[R,g_LGA]+free',
    suffix: null,
    margin: 0.2,
  },
  { argv: '--dataset fashion --defense free --free-base est --source random', error: "free AT on est: source is HM's (--free-base hm)" },
  {
    argv: '--dataset fashion --defense noise',
    resolved: '{"kind":"noise","epsilon":0.30196078431372547}',
    reread: '{"kind":"noise","epsilon":0.30196078431372547}',
    name: 'Noise',
    suffix: null,
    margin: 0.2,
  },
  {
    argv: '--dataset fashion --defense noise --epsilon 4/255',
    resolved: '{"kind":"noise","epsilon":0.01568627450980392}',
    reread: '{"kind":"noise","epsilon":0.01568627450980392}',
    name: 'Noise',
    suffix: null,
    margin: 0.2,
  },
  {
    argv: '--dataset fashion --defense gaussian',
    resolved: '{"kind":"gaussian","sigma":0.25}',
    reread: '{"kind":"gaussian","sigma":0.25}',
    name: 'Gaussian σ=0.25',
    suffix: null,
    margin: 0.2,
  },
  {
    argv: '--dataset fashion --defense gaussian --sigma 0.5',
    resolved: '{"kind":"gaussian","sigma":0.5}',
    reread: '{"kind":"gaussian","sigma":0.5}',
    name: 'Gaussian σ=0.5',
    suffix: null,
    margin: 0.2,
  },
  {
    argv: '--dataset cub --defense none',
    resolved: '{"kind":"none"}',
    reread: '{"kind":"none"}',
    name: 'N/A',
    suffix: '',
    margin: 0.2,
  },
  {
    argv: '--dataset cub --defense est',
    resolved: '{"kind":"est","epsilon":0.03137254901960784,"alpha":0.00392156862745098,"steps":32}',
    reread: '{"kind":"est","steps":32,"epsilon":0.03137254901960784,"alpha":0.00392156862745098}',
    name: 'EST',
    suffix: 'd',
    margin: 0.2,
  },
  {
    argv: '--dataset cub --defense est --pgd-steps 1',
    resolved: '{"kind":"est","steps":1,"epsilon":0.03137254901960784,"alpha":0.00392156862745098}',
    reread: '{"kind":"est","steps":1,"epsilon":0.03137254901960784,"alpha":0.00392156862745098}',
    name: 'EST',
    suffix: 'df',
    margin: 0.2,
  },
  {
    argv: '--dataset cub --defense est --epsilon 8/255 --alpha 2/255',
    resolved: '{"kind":"est","epsilon":0.03137254901960784,"alpha":0.00784313725490196,"steps":32}',
    reread: '{"kind":"est","steps":32,"epsilon":0.03137254901960784,"alpha":0.00784313725490196}',
    name: 'EST',
    suffix: 'd',
    margin: 0.2,
  },
  {
    argv: '--dataset cub --defense act',
    resolved: '{"kind":"act","epsilon":0.03137254901960784,"alpha":0.00392156862745098,"steps":32}',
    reread: '{"kind":"act","steps":32,"epsilon":0.03137254901960784,"alpha":0.00392156862745098}',
    name: 'ACT',
    suffix: 'p',
    margin: 0.2,
  },
  {
    argv: '--dataset cub --defense act --adversarial-probability 0.5',
    resolved: '{"kind":"act","probability":0.5,"epsilon":0.03137254901960784,"alpha":0.00392156862745098,"steps":32}',
    reread: '{"kind":"act","probability":0.5,"steps":32,"epsilon":0.03137254901960784,"alpha":0.00392156862745098}',
    name: 'ACT-50%',
    suffix: 'px',
    margin: 0.2,
  },
  {
    argv: '--dataset cub --defense act --pgd-steps 3 --epsilon 0.1',
    resolved: '{"kind":"act","steps":3,"epsilon":0.1,"alpha":0.00392156862745098}',
    reread: '{"kind":"act","steps":3,"epsilon":0.1,"alpha":0.00392156862745098}',
    name: 'ACT',
    suffix: null,
    margin: 0.2,
  },
  {
    argv: '--dataset cub --defense hm --source random --destination semihard',
    resolved:
      '{"kind":"hm","source":"random","destination":"semihard","ics":0,"skipSatisfied":false,"epsilon":0.03137254901960784,"alpha":0.00392156862745098,"steps":32}',
    reread:
      '{"kind":"hm","source":"random","destination":"semihard","ics":0,"skipSatisfied":false,"steps":32,"epsilon":0.03137254901960784,"alpha":0.00392156862745098}',
    name: 'HM[R,M]',
    suffix: 'hmetrm',
    margin: 0.2,
  },
  {
    argv: '--dataset cub --defense hm --source semihard --destination lga --ics 0.5',
    resolved:
      '{"kind":"hm","source":"semihard","destination":"lga","ics":0.5,"gradualBase":"semihard","skipSatisfied":false,"epsilon":0.03137254901960784,"alpha":0.00392156862745098,"steps":32}',
    reread:
      '{"kind":"hm","source":"semihard","destination":"lga","gradualBase":"semihard","ics":0.5,"skipSatisfied":false,"steps":32,"epsilon":0.03137254901960784,"alpha":0.00392156862745098}',
    name: 'HM[M,g_LGA]&ICS',
    suffix: 'ghmetmmi',
    margin: 0.2,
  },
  {
    argv: '--dataset cub --defense hm --source random --destination -0.5 --skip-satisfied',
    resolved:
      '{"kind":"hm","source":"random","destination":-0.5,"skipSatisfied":true,"ics":0,"epsilon":0.03137254901960784,"alpha":0.00392156862745098,"steps":32}',
    reread:
      '{"kind":"hm","source":"random","destination":-0.5,"ics":0,"skipSatisfied":true,"steps":32,"epsilon":0.03137254901960784,"alpha":0.00392156862745098}',
    name: 'HM[R,-0.5]',
    suffix: null,
    margin: 0.2,
  },
  {
    argv: '--dataset cub --defense hm --source softhard --destination gB --gradual-base distance --pgd-steps 4',
    resolved:
      '{"kind":"hm","source":"softhard","destination":"gB","gradualBase":"distance","steps":4,"ics":0,"skipSatisfied":false,"epsilon":0.03137254901960784,"alpha":0.00392156862745098}',
    reread:
      '{"kind":"hm","source":"softhard","destination":"gB","gradualBase":"distance","ics":0,"skipSatisfied":false,"steps":4,"epsilon":0.03137254901960784,"alpha":0.00392156862745098}',
    name: 'HM[S,g_gB]',
    suffix: null,
    margin: 0.2,
  },
  {
    argv: '--dataset cub --defense catride --lambda 3',
    resolved: '{"kind":"catride","lambda":3,"weighting":"softmax","mode":"alternate","epsilon":0.03137254901960784,"alpha":0.00392156862745098,"steps":16}',
    reread: '{"kind":"catride","lambda":3,"weighting":"softmax","mode":"alternate","steps":16,"epsilon":0.03137254901960784,"alpha":0.00392156862745098}',
    name: 'CA-TRIDE',
    suffix: 'p',
    margin: 0.2,
  },
  {
    argv: '--dataset cub --defense catride',
    resolved: '{"kind":"catride","lambda":10,"weighting":"softmax","mode":"alternate","epsilon":0.03137254901960784,"alpha":0.00392156862745098,"steps":16}',
    reread: '{"kind":"catride","lambda":10,"weighting":"softmax","mode":"alternate","steps":16,"epsilon":0.03137254901960784,"alpha":0.00392156862745098}',
    name: 'CA-TRIDE',
    suffix: 'p',
    margin: 0.2,
  },
  {
    argv: '--dataset cub --defense catride --lambda 3 --catride-mode anp --catride-weighting softmin --pgd-steps 2',
    resolved: '{"kind":"catride","lambda":3,"weighting":"softmin","mode":"anp","steps":2,"epsilon":0.03137254901960784,"alpha":0.00392156862745098}',
    reread: '{"kind":"catride","lambda":3,"weighting":"softmin","mode":"anp","steps":2,"epsilon":0.03137254901960784,"alpha":0.00392156862745098}',
    name: 'CA-ANP',
    suffix: null,
    margin: 0.2,
  },
  {
    argv: '--dataset cub --defense amd',
    resolved: '{"kind":"amd","epsilon":0.03137254901960784,"alpha":0.00392156862745098,"steps":32}',
    reread: '{"kind":"amd","steps":32,"epsilon":0.03137254901960784,"alpha":0.00392156862745098}',
    name: 'AMD',
    suffix: 'amd',
    margin: 0.2,
  },
  {
    argv: '--dataset cub --defense amd --pgd-steps 5',
    resolved: '{"kind":"amd","steps":5,"epsilon":0.03137254901960784,"alpha":0.00392156862745098}',
    reread: '{"kind":"amd","steps":5,"epsilon":0.03137254901960784,"alpha":0.00392156862745098}',
    name: 'AMD',
    suffix: null,
    margin: 0.2,
  },
  {
    argv: '--dataset cub --defense ramd',
    resolved: '{"kind":"ramd","epsilon":0.03137254901960784,"alpha":0.00392156862745098,"steps":32}',
    reread: '{"kind":"ramd","steps":32,"epsilon":0.03137254901960784,"alpha":0.00392156862745098}',
    name: 'RAMD',
    suffix: 'ramd',
    margin: 0.2,
  },
  {
    argv: '--dataset cub --defense ses',
    resolved: '{"kind":"ses","epsilon":0.03137254901960784,"alpha":0.00392156862745098,"steps":32}',
    reread: '{"kind":"ses","steps":32,"epsilon":0.03137254901960784,"alpha":0.00392156862745098}',
    name: 'SES',
    suffix: 'e',
    margin: 0.2,
  },
  {
    argv: '--dataset cub --defense ses --alpha 0.01',
    resolved: '{"kind":"ses","alpha":0.01,"epsilon":0.03137254901960784,"steps":32}',
    reread: '{"kind":"ses","steps":32,"epsilon":0.03137254901960784,"alpha":0.01}',
    name: 'SES',
    suffix: 'e',
    margin: 0.2,
  },
  {
    argv: '--dataset cub --defense rest',
    resolved: '{"kind":"rest","epsilon":0.03137254901960784,"alpha":0.00392156862745098,"steps":32}',
    reread: '{"kind":"rest","steps":32,"epsilon":0.03137254901960784,"alpha":0.00392156862745098}',
    name: 'REST',
    suffix: 'r',
    margin: 0.2,
  },
  {
    argv: '--dataset cub --defense free --free-base none',
    resolved: '{"kind":"free","base":"none","replays":4,"epsilon":0.03137254901960784,"alpha":0.00392156862745098}',
    reread: '{"kind":"free","base":"none","replays":4,"epsilon":0.03137254901960784,"alpha":0.00392156862745098}',
    name: 'FreeAT[none]',
    suffix: 'fatnone',
    margin: 0.2,
  },
  {
    argv: '--dataset cub --defense free --free-base amd --replays 2 --epsilon 4/255',
    resolved: '{"kind":"free","base":"amd","replays":2,"epsilon":0.01568627450980392,"alpha":0.00392156862745098}',
    reread: '{"kind":"free","base":"amd","replays":2,"epsilon":0.01568627450980392,"alpha":0.00392156862745098}',
    name: 'FreeAT[amd]',
    suffix: null,
    margin: 0.2,
  },
  {
    argv: '--dataset cub --defense free --free-base hm --source random --destination lga',
    resolved:
      '{"kind":"free","base":"hm","source":"random","destination":"lga","replays":4,"epsilon":0.03137254901960784,"alpha":0.00392156862745098,"gradualBase":"semihard","ics":0}',
    reread:
      '{"kind":"free","base":"hm","replays":4,"source":"random","destination":"lga","gradualBase":"semihard","ics":0,"epsilon":0.03137254901960784,"alpha":0.00392156862745098}',
    name: 'HM[R,g_LGA]+free',
    suffix: null,
    margin: 0.2,
  },
  { argv: '--dataset cub --defense free --free-base est --source random', error: "free AT on est: source is HM's (--free-base hm)" },
  {
    argv: '--dataset cub --defense noise',
    resolved: '{"kind":"noise","epsilon":0.03137254901960784}',
    reread: '{"kind":"noise","epsilon":0.03137254901960784}',
    name: 'Noise',
    suffix: null,
    margin: 0.2,
  },
  {
    argv: '--dataset cub --defense noise --epsilon 4/255',
    resolved: '{"kind":"noise","epsilon":0.01568627450980392}',
    reread: '{"kind":"noise","epsilon":0.01568627450980392}',
    name: 'Noise',
    suffix: null,
    margin: 0.2,
  },
  {
    argv: '--dataset cub --defense gaussian',
    resolved: '{"kind":"gaussian","sigma":0.25}',
    reread: '{"kind":"gaussian","sigma":0.25}',
    name: 'Gaussian σ=0.25',
    suffix: null,
    margin: 0.2,
  },
  {
    argv: '--dataset cub --defense gaussian --sigma 0.5',
    resolved: '{"kind":"gaussian","sigma":0.5}',
    reread: '{"kind":"gaussian","sigma":0.5}',
    name: 'Gaussian σ=0.5',
    suffix: null,
    margin: 0.2,
  },
  {
    argv: 'fashion:rc2f2:ptripletN',
    resolved: '{"kind":"none"}',
    reread: '{"kind":"none"}',
    name: 'N/A',
    suffix: '',
    margin: 0.2,
  },
  {
    argv: 'fashion:rc2f2d:ptripletN',
    resolved: '{"kind":"est","epsilon":0.30196078431372547,"alpha":0.011764705882352941,"steps":32}',
    reread: '{"kind":"est","steps":32,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'EST',
    suffix: 'd',
    margin: 0.2,
  },
  {
    argv: 'fashion:rc2f2df:ptripletN',
    resolved: '{"kind":"est","steps":1,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    reread: '{"kind":"est","steps":1,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'EST',
    suffix: 'df',
    margin: 0.2,
  },
  {
    argv: 'fashion:rc2f2p:ptripletN',
    resolved: '{"kind":"act","epsilon":0.30196078431372547,"alpha":0.011764705882352941,"steps":32}',
    reread: '{"kind":"act","steps":32,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'ACT',
    suffix: 'p',
    margin: 0.2,
  },
  {
    argv: 'fashion:rc2f2pf:ptripletN',
    resolved: '{"kind":"act","steps":1,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    reread: '{"kind":"act","steps":1,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'ACT',
    suffix: 'pf',
    margin: 0.2,
  },
  {
    argv: 'fashion:rc2f2px:ptripletN',
    resolved: '{"kind":"act","probability":0.5,"epsilon":0.30196078431372547,"alpha":0.011764705882352941,"steps":32}',
    reread: '{"kind":"act","probability":0.5,"steps":32,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'ACT-50%',
    suffix: 'px',
    margin: 0.2,
  },
  {
    argv: 'fashion:rc2f2hmetsr:ptripletN',
    resolved:
      '{"kind":"hm","source":"softhard","destination":"random","ics":0,"skipSatisfied":false,"epsilon":0.30196078431372547,"alpha":0.011764705882352941,"steps":32}',
    reread:
      '{"kind":"hm","source":"softhard","destination":"random","ics":0,"skipSatisfied":false,"steps":32,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'HM[S,R]',
    suffix: 'hmetsr',
    margin: 0.2,
  },
  {
    argv: 'fashion:rc2f2ghmetrsi:ptripletN',
    resolved:
      '{"kind":"hm","source":"random","destination":"lga","gradualBase":"softhard","ics":0.5,"skipSatisfied":false,"epsilon":0.30196078431372547,"alpha":0.011764705882352941,"steps":32}',
    reread:
      '{"kind":"hm","source":"random","destination":"lga","gradualBase":"softhard","ics":0.5,"skipSatisfied":false,"steps":32,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'HM[R,g_LGA]&ICS',
    suffix: 'ghmetrsi',
    margin: 0.2,
  },
  {
    argv: 'fashion:rc2f2hmetrmi:ptripletN',
    resolved:
      '{"kind":"hm","source":"random","destination":"semihard","ics":0.5,"skipSatisfied":false,"epsilon":0.30196078431372547,"alpha":0.011764705882352941,"steps":32}',
    reread:
      '{"kind":"hm","source":"random","destination":"semihard","ics":0.5,"skipSatisfied":false,"steps":32,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'HM[R,M]&ICS',
    suffix: 'hmetrmi',
    margin: 0.2,
  },
  {
    argv: 'cub:rres18p:pgtripletN',
    resolved: '{"kind":"catride","lambda":10,"weighting":"softmax","mode":"alternate","epsilon":0.03137254901960784,"alpha":0.00392156862745098,"steps":16}',
    reread: '{"kind":"catride","lambda":10,"weighting":"softmax","mode":"alternate","steps":16,"epsilon":0.03137254901960784,"alpha":0.00392156862745098}',
    name: 'CA-TRIDE',
    suffix: 'p',
    margin: 0.2,
  },
  {
    argv: 'cub:rres18ghmetssi:ptripletN',
    resolved:
      '{"kind":"hm","source":"softhard","destination":"lga","gradualBase":"softhard","ics":0.5,"skipSatisfied":false,"epsilon":0.03137254901960784,"alpha":0.00392156862745098,"steps":32}',
    reread:
      '{"kind":"hm","source":"softhard","destination":"lga","gradualBase":"softhard","ics":0.5,"skipSatisfied":false,"steps":32,"epsilon":0.03137254901960784,"alpha":0.00392156862745098}',
    name: 'HM[S,g_LGA]&ICS',
    suffix: 'ghmetssi',
    margin: 0.2,
  },
  {
    argv: 'fashion:rc2f2amd:ptripletN',
    resolved: '{"kind":"amd","epsilon":0.30196078431372547,"alpha":0.011764705882352941,"steps":32}',
    reread: '{"kind":"amd","steps":32,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'AMD',
    suffix: 'amd',
    margin: 0.2,
  },
  {
    argv: 'fashion:rc2f2ramd:ptripletN',
    resolved: '{"kind":"ramd","epsilon":0.30196078431372547,"alpha":0.011764705882352941,"steps":32}',
    reread: '{"kind":"ramd","steps":32,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'RAMD',
    suffix: 'ramd',
    margin: 0.2,
  },
  {
    argv: 'fashion:rc2f2e:ptripletN',
    resolved: '{"kind":"ses","epsilon":0.30196078431372547,"alpha":0.011764705882352941,"steps":32}',
    reread: '{"kind":"ses","steps":32,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'SES',
    suffix: 'e',
    margin: 0.2,
  },
  {
    argv: 'fashion:rc2f2r:ptripletN',
    resolved: '{"kind":"rest","epsilon":0.30196078431372547,"alpha":0.011764705882352941,"steps":32}',
    reread: '{"kind":"rest","steps":32,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'REST',
    suffix: 'r',
    margin: 0.2,
  },
  {
    argv: 'fashion:rc2f2fatnone:ptripletN',
    resolved: '{"kind":"free","base":"none","replays":4,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    reread: '{"kind":"free","base":"none","replays":4,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'FreeAT[none]',
    suffix: 'fatnone',
    margin: 0.2,
  },
  {
    argv: 'fashion:rc2f2fatamd:ptripletN',
    resolved: '{"kind":"free","base":"amd","replays":4,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    reread: '{"kind":"free","base":"amd","replays":4,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'FreeAT[amd]',
    suffix: 'fatamd',
    margin: 0.2,
  },
  {
    argv: 'fashion:rc2f2fatamdsemi:ptripletN',
    resolved: '{"kind":"free","base":"amdsemi","replays":4,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    reread: '{"kind":"free","base":"amdsemi","replays":4,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    name: 'FreeAT[amdsemi]',
    suffix: 'fatamdsemi',
    margin: 0.2,
  },
  {
    argv: 'fashion:rc2f2hmkl:ptripletN',
    error: "model suffix 'hmkl': the fixed-anchor (rh) and KL/L2 HM variants are not supported (the authors report they do not work)",
  },
];

test('the CLI resolves every defense on fashion and cub as before: config JSON, re-read JSON, name, suffix, margin, errors', async () => {
  for (const want of BEFORE) {
    const run = trainConfigOf(want.argv.split(' '));
    if ('error' in want) {
      await assert.rejects(run, (e: Error) => e.message === want.error, want.argv);
      continue;
    }
    const c = await run;
    assert.equal(JSON.stringify(c.defense), want.resolved, want.argv);
    const reread = defenseConfigSchema.parse(JSON.parse(JSON.stringify(c.defense)));
    assert.equal(JSON.stringify(reread), want.reread, `${want.argv}: read back`);
    assert.equal(describeDefense(c.defense), want.name, `${want.argv}: name`);
    assert.equal(modelSuffix(c.defense), want.suffix, `${want.argv}: suffix`);
    assert.equal(c.margin, want.margin, `${want.argv}: margin`);
  }
});

/** Defense configs recorded in checkpoint.json files, the JSON the schema made of them and their names, before the split. */
const RECORDED: readonly [string, string, string][] = [
  ['{"kind":"none"}', '{"kind":"none"}', 'N/A'],
  [
    '{"kind":"free","base":"est","replays":2,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    '{"kind":"free","base":"est","replays":2,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    'FreeAT[est]',
  ],
  [
    '{"kind":"free","base":"act","replays":2,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    '{"kind":"free","base":"act","replays":2,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    'FreeAT[act]',
  ],
  [
    '{"kind":"rest","steps":2,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    '{"kind":"rest","steps":2,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    'REST',
  ],
  [
    '{"kind":"act","steps":2,"probability":0.5,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    '{"kind":"act","probability":0.5,"steps":2,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    'ACT-50%',
  ],
  [
    '{"kind":"free","base":"hm","source":"softhard","destination":"lga","ics":0.5,"replays":2,"epsilon":0.30196078431372547,"alpha":0.011764705882352941,"gradualBase":"semihard"}',
    '{"kind":"free","base":"hm","replays":2,"source":"softhard","destination":"lga","gradualBase":"semihard","ics":0.5,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    'HM[S,g_LGA]&ICS+free',
  ],
  [
    '{"kind":"amd","steps":2,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    '{"kind":"amd","steps":2,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    'AMD',
  ],
  [
    '{"kind":"free","base":"amdsemi","replays":2,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    '{"kind":"free","base":"amdsemi","replays":2,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    'FreeAT[amdsemi]',
  ],
  [
    '{"kind":"free","base":"none","replays":2,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    '{"kind":"free","base":"none","replays":2,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    'FreeAT[none]',
  ],
  [
    '{"kind":"ses","steps":2,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    '{"kind":"ses","steps":2,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    'SES',
  ],
  ['{"kind":"noise","epsilon":0.30196078431372547}', '{"kind":"noise","epsilon":0.30196078431372547}', 'Noise'],
  [
    '{"kind":"free","base":"amd","replays":3,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    '{"kind":"free","base":"amd","replays":3,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    'FreeAT[amd]',
  ],
  [
    '{"kind":"ramd","steps":2,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    '{"kind":"ramd","steps":2,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    'RAMD',
  ],
  [
    '{"kind":"act","steps":2,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    '{"kind":"act","steps":2,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    'ACT',
  ],
  ['{"kind":"est","steps":4,"alpha":0.08,"epsilon":0.30196078431372547}', '{"kind":"est","steps":4,"epsilon":0.30196078431372547,"alpha":0.08}', 'EST'],
  [
    '{"kind":"hm","source":"softhard","destination":"lga","gradualBase":"semihard","ics":0.5,"skipSatisfied":true,"steps":4,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    '{"kind":"hm","source":"softhard","destination":"lga","gradualBase":"semihard","ics":0.5,"skipSatisfied":true,"steps":4,"epsilon":0.30196078431372547,"alpha":0.011764705882352941}',
    'HM[S,g_LGA]&ICS',
  ],
];

test("recorded checkpoints' defense configs read back as before", () => {
  for (const [json, parsed, name] of RECORDED) {
    const d = defenseConfigSchema.parse(JSON.parse(json));
    assert.equal(JSON.stringify(d), parsed, json);
    assert.equal(describeDefense(d), name, json);
  }
});
