// Layer: cli. `rankshield info`: the engine this installation computes with.
import { engineInfo } from '../tensor/index.js';
import { flagBool, parseOptions, usageText } from './args.js';

const OPTIONS = { json: { kind: 'boolean', help: 'print one JSON object' } } as const;
import { UsageError, type Command } from './command.js';

export const infoCommand: Command = {
  name: 'info',
  summary: 'libtorch version and path, CUDA devices, BLAS, threads, distributed support',
  usage: usageText(
    ['rankshield info [--json]'],
    `Prints what this installation computes with: the libtorch the native addon was built against
(choose another with RANKSHIELD_LIBTORCH=DIR or =python and npm run setup), whether it has CUDA
and which devices it sees, the BLAS, the CPU capability libtorch uses, the intra-op threads, and
whether c10d Gloo (data-parallel --nproc) is available. BLAS is libtorch's own build setting:
Debian's libtorch says "generic" (the libblas.so.3 interface, which libopenblas0-pthread makes
OpenBLAS; docs/install.md#what-rankshield-info-prints).`,
    [{ options: OPTIONS }],
  ),
  options: OPTIONS,
  async run(argv) {
    const p = parseOptions(argv, OPTIONS);
    if (p.positionals.length > 0) throw new UsageError(`unexpected arguments: ${p.positionals.join(' ')}`);
    const i = engineInfo();
    if (flagBool(p, 'json')) {
      console.log(JSON.stringify(i));
      return 0;
    }
    const where = i.libtorch.root ?? (i.libtorch.libDir === null ? 'unknown' : `Debian's libtorch-dev (${i.libtorch.libDir})`);
    console.log(
      [
        `libtorch     ${i.libtorch.version} from ${where}${i.libtorch.cxx11Abi === null ? '' : `, C++11 ABI ${i.libtorch.cxx11Abi ? 'on' : 'off'}`}`,
        `CUDA         ${!i.cuda.built ? 'not in this build' : i.cuda.available ? i.cuda.devices.map((d, k) => `cuda:${k} ${d}`).join(', ') : 'built, but no device visible'}`,
        `distributed  ${i.distributed.gloo ? `c10d Gloo${i.distributed.nccl ? ' (CPU tensors) and NCCL (CUDA tensors)' : ''} (--nproc, torchrun variables)` : 'not in this build (install libgloo-dev, npm run setup)'}`,
        `BLAS         ${i.blas}`,
        `CPU          ${i.cpuCapability}`,
        `threads      ${i.threads}`,
        `addon        ${i.addon}`,
      ].join('\n'),
    );
    return 0;
  },
};
