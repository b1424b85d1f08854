// Layer: cli. `rankshield demo`: the default job — RobRank's Fashion-MNIST
// baseline `fashion:rc2f2:ptripletN` trained and evaluated end to end.
import { hasCheckpoint } from '../run/checkpoint.js';
import { BENIGN_COLUMNS } from '../eval/benign.js';
import type { Command } from './command.js';

export const demoCommand: Command = {
  name: 'demo',
  summary: 'train + evaluate c2f2 on Fashion-MNIST (the default job)',
  usage: `usage: rankshield demo [train options]

Runs \`rankshield train fashion:rc2f2:ptripletN --out runs/demo\` (8 code epochs; about 21 min
of training and evaluation on 2 CPU cores) and prints ${BENIGN_COLUMNS.join(' / ')} on the 10,000-image test split.
Any \`rankshield train\` option may be added, e.g. --epochs 1 for a quick look. Run again, it
continues runs/demo from its newest checkpoint (--overwrite starts over).`,
  async run(argv) {
    const { trainCommand } = await import('./train.js');
    const hasOut = argv.some((a) => a === '--out' || a.startsWith('--out='));
    // The default job is resumable by just running it again.
    const again = !hasOut && hasCheckpoint('runs/demo') && !argv.includes('--overwrite') && !argv.includes('--resume');
    return trainCommand.run(['fashion:rc2f2:ptripletN', ...(hasOut ? [] : ['--out', 'runs/demo']), ...(again ? ['--resume'] : []), ...argv]);
  },
};
