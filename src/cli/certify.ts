// Layer: cli. `rankshield certify CKPT --sigma σ --samples n --alpha α`: certified retrieval robustness
// of the Gaussian-smoothed model (docs/certification.md), optionally beside the empirical R@1 under an
// L2 attack on the same smoothed model.
import { provenance } from '../run/provenance.js';
import path from 'node:path';
import { CERTIFY_DEFAULTS, runCertify } from '../eval/certify.js';
import { certifyMarkdown, certifySvg } from '../eval/certify-report.js';
import { SMOOTHED_ATTACK_DEFAULTS } from '../eval/smoothed-attack.js';
import { ensureWritableDir, writeFileAtomicSync } from '../io/atomic.js';
import { DATA_ROOT_SECTION, MODEL_SOURCE_SECTION, openModelSource } from './model-source.js';
import { UsageError, type Command } from './command.js';
import {
  applyThreads,
  DEVICE_OPTION,
  deviceFlag,
  flagBool,
  flagNumber,
  flagString,
  mergeSections,
  OUTPUT_OPTIONS,
  parseOptions,
  showProgress,
  THREADS_OPTION,
  usageText,
  type OptionSection,
} from './args.js';

const D = CERTIFY_DEFAULTS;
const A = SMOOTHED_ATTACK_DEFAULTS;

const SECTIONS: readonly OptionSection[] = [
  {
    title: 'certificate (docs/certification.md)',
    options: {
      sigma: {
        kind: 'number',
        value: 'S',
        above: 0,
        max: 4,
        help: 'σ of the Gaussian noise of the smoothed model, pixel units (images in [0, 1])',
        default: String(D.sigma),
      },
      samples: { kind: 'int', value: 'N', min: 1, help: 'n, Monte Carlo samples per query (forward passes)', default: String(D.samples) },
      alpha: {
        kind: 'number',
        value: 'A',
        above: 0,
        max: 0.5,
        help: 'failure probability of the whole run: every certificate holds together with probability ≥ 1 − α',
        default: String(D.alpha),
      },
      radii: { kind: 'string', value: 'LIST', help: 'L2 radii (pixel units) to report, comma-separated', default: D.radii.join(',') },
      k: { kind: 'string', value: 'LIST', help: 'K of the certified Recall@K (R@1 always)', default: D.ks.join(',') },
      queries: { kind: 'int', value: 'Q', min: 1, help: 'certify the first Q test images (the gallery is the whole test split)', default: String(D.queries) },
      gallery: {
        kind: 'string',
        choices: ['clean', 'smoothed'],
        help: "clean: the gallery's plain normalised embeddings (exact, N passes); smoothed: ĝ of every\ngallery item too (N·n passes, each under the union bound)",
        default: D.gallery,
      },
      seed: { kind: 'int', value: 'S', min: 0, help: 'seed of the noise and of the QA candidates', default: String(D.seed) },
    },
  },
  {
    title: 'empirical check',
    options: {
      empirical: { kind: 'boolean', help: 'also attack the smoothed model at every radius (APGD-L2 with restarts, EOT) and report its R@1' },
      'attack-steps': { kind: 'int', value: 'N', min: 1, help: 'APGD steps', default: String(A.steps) },
      restarts: { kind: 'int', value: 'R', min: 0, help: 'extra APGD runs from random points of the ball', default: String(A.restarts) },
      eot: { kind: 'int', value: 'E', min: 1, help: 'noise draws per gradient step (expectation over transformation)', default: String(A.eot) },
      'judge-samples': { kind: 'int', value: 'N', min: 1, help: 'samples of ĝ that judge each attacked query (default: --samples)' },
    },
  },
  {
    title: 'output',
    options: {
      ...OUTPUT_OPTIONS,
      out: { kind: 'string', value: 'DIR', help: 'write certify.json, certify.md and certify.svg (certified R@1 against the radius) there' },
      ...THREADS_OPTION,
      ...DEVICE_OPTION,
    },
  },
  DATA_ROOT_SECTION,
  MODEL_SOURCE_SECTION,
];

/** A comma-separated list of numbers; a usage error names the flag otherwise. */
function numberList(flag: string, raw: string | undefined, fallback: readonly number[]): number[] {
  if (raw === undefined) return [...fallback];
  const values = raw.split(',').map((x) => x.trim());
  const out = values.map(Number);
  const bad = values.find((x, i) => x === '' || !Number.isFinite(out[i]!));
  if (bad !== undefined) throw new UsageError(`--${flag}: '${bad}' is not a number (give a comma-separated list such as ${fallback.join(',')})`);
  return out;
}

export const certifyCommand: Command = {
  name: 'certify',
  summary: 'certified Recall@K, ES:D and QA± bounds of the Gaussian-smoothed model under L2 perturbations',
  usage: usageText(
    ['rankshield certify CKPT [options]', 'rankshield certify --model-file FILE --dataset NAME [options]'],
    `The smoothed model embeds a query x as g(x) = E[f(x + δ)], δ ~ N(0, σ²I), f the model's normalised
embedding, estimated from n samples; it ranks the gallery by Euclidean distance to that estimate.
g is √(2/π)/σ-Lipschitz in L2, so a perturbation of L2 norm ≤ r moves g by at most √(2/π)·r/σ; with
the Monte Carlo error bound this certifies, per query, that the nearest relevant items stay ahead of
every irrelevant one (Recall@K), bounds the embedding shift (ES:D) and the QA± candidates' ranks.
Every certificate of a run holds together with probability ≥ 1 − α. What is covered and what is not:
docs/certification.md. Progress with ETA goes to stderr; the last line of output is the JSON result.`,
    SECTIONS,
  ),
  options: mergeSections(SECTIONS),
  async run(argv) {
    const p = parseOptions(argv, this.options!);
    const radii = numberList('radii', flagString(p, 'radii'), D.radii);
    const ks = numberList('k', flagString(p, 'k'), D.ks);
    if (radii.some((r) => r < 0)) throw new UsageError(`--radii: every radius must be ≥ 0, got ${radii.join(',')}`);
    if (ks.some((k) => !Number.isInteger(k) || k < 1)) throw new UsageError(`--k: every K must be a positive integer, got ${ks.join(',')}`);
    const out = flagString(p, 'out');
    if (out !== undefined) ensureWritableDir(out);
    const device = deviceFlag(p);
    applyThreads(p);
    const { model, data } = await openModelSource(p);
    model.to(device);
    try {
      const empirical = flagBool(p, 'empirical')
        ? {
            steps: flagNumber(p, 'attack-steps'),
            restarts: flagNumber(p, 'restarts'),
            eot: flagNumber(p, 'eot'),
            samples: flagNumber(p, 'judge-samples') ?? flagNumber(p, 'samples'),
          }
        : undefined;
      const result = await runCertify(model, data.test, {
        sigma: flagNumber(p, 'sigma'),
        samples: flagNumber(p, 'samples'),
        alpha: flagNumber(p, 'alpha'),
        radii,
        ks,
        queries: flagNumber(p, 'queries'),
        gallery: flagString(p, 'gallery') as 'clean' | 'smoothed' | undefined,
        seed: flagNumber(p, 'seed'),
        progress: showProgress(p),
        empirical,
      });
      const markdown = certifyMarkdown(result, result.empirical);
      if (!flagBool(p, 'json')) console.log(markdown);
      console.log(JSON.stringify(result));
      if (out !== undefined) {
        writeFileAtomicSync(path.join(out, 'certify.json'), `${JSON.stringify({ ...result, provenance: provenance(['certify', ...argv]) }, null, 2)}\n`);
        writeFileAtomicSync(path.join(out, 'certify.md'), markdown);
        writeFileAtomicSync(path.join(out, 'certify.svg'), certifySvg(result, result.empirical));
      }
      return 0;
    } finally {
      model.dispose();
    }
  },
};
