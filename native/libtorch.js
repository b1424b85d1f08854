#!/usr/bin/env node
// Which libtorch the addon builds against, and the flags that libtorch needs;
// binding.gyp asks this script (`node libtorch.js <what>`) for each list.
//
//   RANKSHIELD_LIBTORCH unset    Debian's libtorch-dev (/usr/include, system libraries)
//   RANKSHIELD_LIBTORCH=DIR      a libtorch tree: DIR/include, DIR/lib (the C++ distribution, or a
//                                PyTorch installation's torch/ directory)
//   RANKSHIELD_LIBTORCH=python   the PyTorch that `python3` imports (e.g. a CUDA build of PyTorch 2.x)
//
// Detected, not assumed: the version (torch/version.h), the C++ ABI flag the
// libraries were built with (their exported symbols), CUDA (libtorch_cuda
// present) and c10d Gloo (its headers present: Debian's libgloo-dev, or the
// tree's own include/gloo).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

function torchRoot() {
  const choice = process.env.RANKSHIELD_LIBTORCH ?? '';
  if (choice === '') return null;
  if (choice === 'python') {
    const py = process.env.PYTHON ?? 'python3';
    return execFileSync(py, ['-c', 'import torch, os; print(os.path.dirname(torch.__file__))'], { encoding: 'utf8' }).trim();
  }
  return path.resolve(choice);
}

function describe() {
  const root = torchRoot();
  const include = root === null ? '/usr/include' : path.join(root, 'include');
  const libDir = root === null ? findDebianLibDir() : path.join(root, 'lib');
  // 1.13 keeps it in the C++ API's include tree; 2.x also under include/torch.
  const versionH = [path.join(include, 'torch', 'version.h'), path.join(include, 'torch', 'csrc', 'api', 'include', 'torch', 'version.h')].find(existsSync);
  if (versionH === undefined) {
    throw new Error(`no libtorch headers at ${include} (torch/version.h missing)` + (root === null ? ': install libtorch-dev, or set RANKSHIELD_LIBTORCH' : ''));
  }
  const v = readFileSync(versionH, 'utf8');
  const version = /TORCH_VERSION\s+"([^"]+)"/.exec(v)?.[1] ?? ['MAJOR', 'MINOR', 'PATCH'].map((k) => new RegExp(`TORCH_VERSION_${k}\\s+(\\d+)`).exec(v)?.[1] ?? '?').join('.');
  const lib = (name) => [path.join(libDir, `lib${name}.so`), ...(existsSync(libDir) ? readdirSync(libDir).filter((f) => f.startsWith(`lib${name}.so.`)).map((f) => path.join(libDir, f)) : [])].find(existsSync);
  const torchCpu = lib('torch_cpu');
  if (torchCpu === undefined) throw new Error(`no libtorch_cpu.so in ${libDir}`);
  const cuda = lib('torch_cuda') !== undefined;
  const glooInclude = [path.join(include, 'gloo'), '/usr/include/gloo'].find((d) => existsSync(path.join(d, 'config.h')));
  return { root, include, libDir, version, abi: cxx11Abi(lib('c10') ?? torchCpu), cuda, gloo: glooInclude !== undefined };
}

function findDebianLibDir() {
  for (const d of ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib']) if (existsSync(path.join(d, 'libtorch_cpu.so'))) return d;
  return '/usr/lib';
}

/** 1 when the library's C++ symbols use the new (C++11) std::string ABI, 0 for the old one. */
function cxx11Abi(so) {
  try {
    const syms = execFileSync('nm', ['-DC', so], { encoding: 'utf8', maxBuffer: 1 << 28 });
    return syms.includes('std::__cxx11::basic_string') ? 1 : 0;
  } catch {
    return 1; // nm missing: every libtorch of the last years defaults to the new ABI
  }
}

const d = describe();
const what = process.argv[2];
const out = {
  include_dirs: [d.include, path.join(d.include, 'torch', 'csrc', 'api', 'include')],
  defines: [`_GLIBCXX_USE_CXX11_ABI=${d.abi}`, ...(d.gloo ? ['RANKSHIELD_C10D_GLOO', 'USE_C10D_GLOO'] : []), ...(d.cuda ? ['RANKSHIELD_CUDA'] : [])],
  libraries: [
    ...(d.root === null ? [] : [`-L${d.libDir}`, `-Wl,-rpath,${d.libDir}`]),
    // --no-as-needed: libtorch_cuda registers its kernels when loaded; nothing references it by name.
    ...(d.cuda ? ['-Wl,--no-as-needed', '-ltorch_cuda', '-lc10_cuda', '-Wl,--as-needed'] : []),
    '-ltorch_cpu', '-lc10',
  ],
  json: [JSON.stringify(d)],
}[what];
if (out === undefined) {
  console.error('usage: node libtorch.js include_dirs|defines|libraries|json');
  process.exit(2);
}
console.log(out.join('\n'));
