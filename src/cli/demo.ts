// Layer: cli. `rankshield demo`: placeholder wired to the engine smoke job until training lands.
import type { Command } from './command.js';
export const demoCommand: Command = {
  name: 'demo',
  summary: 'default job',
  usage: 'usage: rankshield demo',
  async run() {
    const { runEngineBench } = await import('../../bench/engine.js');
    return runEngineBench(['--iters', '10']);
  },
};
