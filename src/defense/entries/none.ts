// Layer: defense. Regular training: the catalogue entry of no defense.
import { defenseEntry } from '../entry.js';
import { noDefense } from '../none.js';

export const noneEntry = defenseEntry(
  'none',
  {},
  {
    summary: 'regular training (no adversarial examples)',
    paperName: () => 'N/A',
    resolve: (c) => c,
    build: () => noDefense(),
    refusesLoss: () => undefined,
    trainsBatchNorm: false,
    suffix: { grammar: "''", parse: (s) => (s === '' ? { kind: 'none' } : null), format: () => '' },
  },
);
