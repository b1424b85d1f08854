// Layer: eval. The robust evaluation as Markdown (swipe.md, the terminal) and as an HTML
// section (index.html): one table of every component and the worst case, the scores, what
// each component cost, and the masking verdict with its evidence.
import { attackColumn } from './columns.js';
import { ATTACK_NAMES } from './robustness.js';
import { formatScore } from './format.js';
import { formatInterval } from './bootstrap.js';
import { escapeXml as esc } from './report-svg.js';
import { COMPONENTS, PGD_DAMAGE_SHARE_MIN, type ComponentName, type ComponentTable, type RobustEvalResult } from './robust-eval.js';

/** How each component is named in the tables, with its budget. */
export function componentTitle(c: ComponentName, r: RobustEvalResult): string {
  const s = r.settings;
  switch (c) {
    case 'pgd':
      return `PGD (profile, η ${r.budget.steps})`;
    case 'apgd':
      return `APGD (η ${s.apgdSteps} × ${s.restarts} random start${s.restarts === 1 ? '' : 's'})`;
    case 'query':
      return s.queryMethod === 'square' ? `query-only Square (${s.querySettings.queries.toLocaleString('en-US')} queries)` : `query-only ${s.queryMethod}`;
    case 'transfer':
      return 'transfer (PGD on the surrogate)';
  }
}

/** The headline in words: the worst case's ERS and ARS with its name, PGD's beside them. */
export function robustHeadline(r: RobustEvalResult): string {
  const w = r.worstCase;
  const p = r.components.pgd!;
  const score = (x: number | null): string => (x === null ? 'n/a' : formatScore(x));
  return `ERS ${score(w.ERS)}, ARS ${score(w.ARS)} — ${w.name} (PGD alone: ERS ${score(p.ERS)}, ARS ${score(p.ARS)})`;
}

/** The unreliable-PGD finding in words. */
function pgdFinding(r: RobustEvalResult): string {
  const q = r.verdict.pgdReliability;
  const share = q.damageShare === null ? 'n/a' : `${(100 * q.damageShare).toFixed(0)} %`;
  return r.verdict.pgdUnreliable
    ? `PGD UNRELIABLE: its ERS measures the attack, not the model. ${q.reasons.join('; ')}.`
    : `PGD not found unreliable: APGD beats it beyond the noise on ${q.attacksBeyondNoise} of ${q.attacks} attacks, and PGD does ${share} of APGD's damage (unreliable: more than half of the attacks and under ${100 * PGD_DAMAGE_SHARE_MIN} %).`;
}

interface Grid {
  head: string[];
  rows: string[][];
}

function digits(column: string): number {
  return attackColumn(column).digits;
}

/** The numbers of the evaluation as a grid: one row per column, then the scores and the costs. */
function grid(r: RobustEvalResult): Grid {
  const parts: [string, ComponentTable][] = [
    ...COMPONENTS.filter((c) => r.components[c] !== undefined).map((c) => [componentTitle(c, r), r.components[c]!] as [string, ComponentTable]),
    ['worst case', r.worstCase],
  ];
  const head = ['column', 'unit', 'robust if', ...parts.map(([t]) => t)];
  const rows = ATTACK_NAMES.map((column) => {
    const c = attackColumn(column);
    return [
      column,
      c.unit,
      c.robust,
      ...parts.map(([, t]) =>
        t.attacks[column] === undefined ? '—' : `${t.attacks[column]!.toFixed(digits(column))} ${formatInterval(t.intervals?.[column], digits(column))}`.trim(),
      ),
    ];
  });
  rows.push([
    '**ERS**',
    '',
    'higher',
    ...parts.map(([, t]) => (t.ERS === null ? 'n/a' : `${formatScore(t.ERS)} ${formatInterval(t.intervals?.ERS, 1)}`.trim())),
  ]);
  rows.push([
    '**ARS**',
    '',
    'higher',
    ...parts.map(([, t]) => (t.ARS === null ? 'n/a' : `${formatScore(t.ARS)} ${formatInterval(t.intervals?.ARS, 1)}`.trim())),
  ]);
  rows.push([
    'passes / image (fwd, bwd)',
    '',
    '',
    ...parts.map(
      ([, t]) =>
        `${t.passes.forward}, ${t.passes.backward}` +
        (t.passes.surrogateForward > 0 ? ` (+ surrogate ${t.passes.surrogateForward}, ${t.passes.surrogateBackward})` : ''),
    ),
  ]);
  rows.push(['seconds', '', '', ...parts.map(([, t]) => t.seconds.toFixed(1))]);
  return { head, rows };
}

function settingsLine(r: RobustEvalResult): string {
  const s = r.settings;
  const b = r.budget;
  return (
    `budget ${s.preset}; ε ${b.epsilon.toFixed(5)}, α ${b.alpha.toFixed(5)}, η ${b.steps}; APGD: ${s.apgdSteps} iterations, ${s.restarts} run(s) from uniform random starts; ` +
    `query-only: ${s.queryMethod} (${s.queryMethod === 'square' ? `${s.querySettings.queries} queries` : `${s.querySettings.samples} probes × η`} per image); ` +
    `transfer: ${s.surrogate ?? 'none'}; ε sweep: PGD at ε × ${s.epsilonFractions.join(', ')} on the first ${s.sweepQueries} queries` +
    (s.eot > 1 ? `; EOT: ${s.eot} draws per gradient or query` : '')
  );
}

/** The evaluation as Markdown. */
export function robustEvalMarkdown(r: RobustEvalResult): string {
  const g = grid(r);
  const verdict = r.verdict.flagged
    ? `**FLAGGED: possible gradient masking.**\n\n${r.verdict.reasons.map((x) => `- ${x}`).join('\n')}`
    : '**Not flagged**: no query-only or transferred attack beats the white-box ones beyond the noise, and PGD does not weaken as ε grows.';
  const evidence = r.verdict.evidence.map((e) => {
    const d = e.unit.startsWith('%') ? 1 : 3;
    return `| ${e.column} | ${e.whiteBox.toFixed(d)} | ${Object.entries(e.others)
      .map(([c, v]) => `${c} ${v!.toFixed(d)}`)
      .join(
        ', ',
      )} | ${e.strongest ?? '—'} ${e.advantage >= 0 ? '+' : ''}${e.advantage.toFixed(d)} ± ${e.standardError.toFixed(d + 1)} (floor ${e.floor}) | ${e.flagged ? 'yes' : 'no'} | ${e.sweep.map((s) => s.value.toFixed(d)).join(' → ')} | ${e.sweepFlagged ? 'yes' : 'no'} |`;
  });
  return [
    `# Robust evaluation — profile ${r.profile}, metric ${r.metric}`,
    '',
    `**${robustHeadline(r)}**`,
    '',
    `${r.queries} queries (${r.batches} batch(es)); per image, the worst case over the components by each attack's ERS terms (its column; ES:D and ES:R together). ${r.seconds.toFixed(1)} s in all.`,
    `Settings: ${settingsLine(r)}.`,
    `Benign R@1 of the attacked queries: ${r.benignRecallAt1.toFixed(1)} %.`,
    `[lo, hi]: ${Math.round(100 * r.bootstrap.confidence)} % per-query bootstrap intervals (B = ${r.bootstrap.resamples}, seed ${r.bootstrap.seed}; one draw of queries per replicate for every table, ERS and ARS through their formulas); points: ${r.estimator}.`,
    '',
    `| ${g.head.join(' | ')} |`,
    `| ${g.head.map(() => '---').join(' | ')} |`,
    ...g.rows.map((row) => `| ${row.join(' | ')} |`),
    '',
    '## Gradient-masking verdict',
    '',
    verdict,
    '',
    `Rule: ${r.verdict.rule}.`,
    '',
    '| column | white-box (best of PGD, APGD) | others | strongest other − white-box (± s.e.) | rule A | PGD over the ε sweep | rule B |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...evidence,
    '',
    "## Is the profile's PGD reliable?",
    '',
    `**${pgdFinding(r)}**`,
    '',
    `Rule: ${r.verdict.pgdReliability.rule}.`,
    '',
    '| column | PGD | APGD | APGD − PGD (± s.e.) | beyond the noise |',
    '| --- | --- | --- | --- | --- |',
    ...r.verdict.pgdReliability.evidence.map((e) => {
      const d = e.unit.startsWith('%') ? 1 : 3;
      return `| ${e.column} | ${e.pgd.toFixed(d)} | ${e.apgd.toFixed(d)} | ${e.advantage >= 0 ? '+' : ''}${e.advantage.toFixed(d)} ± ${e.standardError.toFixed(d + 1)} (floor ${e.floor}) | ${e.beyondNoise ? 'yes' : 'no'} |`;
    }),
    '',
  ].join('\n');
}

/** The evaluation as an HTML section of index.html. */
export function robustEvalHtml(r: RobustEvalResult): string {
  const g = grid(r);
  const table =
    `<table><thead><tr>${g.head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>` +
    g.rows.map((row) => `<tr>${row.map((c, i) => `<td${i >= 3 ? ' class="num"' : ''}>${esc(c.replace(/\*\*/g, ''))}</td>`).join('')}</tr>`).join('') +
    '</tbody></table>';
  const verdict = r.verdict.flagged
    ? `<p class="verdict flagged" data-testid="verdict">Flagged: possible gradient masking.</p><ul>${r.verdict.reasons.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>`
    : '<p class="verdict" data-testid="verdict">Not flagged: no query-only or transferred attack beats the white-box ones beyond the noise, and PGD does not weaken as ε grows.</p>';
  const pgd = `<p class="verdict${r.verdict.pgdUnreliable ? ' flagged' : ''}" data-testid="pgd-finding">${esc(pgdFinding(r))}</p>`;
  return (
    `<section class="card"><h2>Robust evaluation</h2><p class="headline" data-testid="headline"><strong>${esc(robustHeadline(r))}</strong></p><p class="sub">${esc(`${r.queries} queries; ${settingsLine(r)}.`)}</p>${table}` +
    `<h3>Gradient-masking verdict</h3>${verdict}<p class="note">${esc(`Rule: ${r.verdict.rule}.`)}</p>` +
    `<h3>Is the profile's PGD reliable?</h3>${pgd}<p class="note">${esc(`Rule: ${r.verdict.pgdReliability.rule}.`)}</p></section>`
  );
}
