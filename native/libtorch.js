#!/usr/bin/env node
// Which libtorch the addon builds against, and the flags that libtorch needs;
// binding.gyp (and scripts/build-addon.sh, the node-gyp-free build) ask this
// script (`node libtorch.js <what>`) for each list.
//
//   RANKSHIELD_LIBTORCH unset    Debian's libtorch-dev (/usr/include, system libraries)
//   RANKSHIELD_LIBTORCH=DIR      a libtorch tree: DIR/include, DIR/lib (the C++ distribution, or a
//                                PyTorch installation's torch/ directory)
//   RANKSHIELD_LIBTORCH=python   the PyTorch that `$PYTHON` (default python3) imports, e.g. a pip
//                                install of PyTorch 2.x (a CUDA build on Linux x86_64)
//
// Detected, never assumed:
//   version   torch/version.h
//   cxxStd    the newest C++ standard the headers demand (their `__cplusplus < N` #error guards;
//             at least C++17, which the bridge itself uses): C++17 for 1.13, C++20 for 2.15
//   abi       _GLIBCXX_USE_CXX11_ABI: torch's own answer (torch._C._GLIBCXX_USE_CXX11_ABI) when a
//             Python is at hand, else the libraries' exported std::string symbols
//   cuda      libtorch_cuda present AND the CUDA runtime headers its ATen/cuda headers include
//             (a pip install keeps them in the nvidia-* packages beside torch; else CUDA_HOME,
//             /usr/local/cuda); cudaMissing names what is absent when libtorch_cuda is there
//   nccl      cuda AND nccl.h found AND c10d's ProcessGroupNCCL exported by libtorch_cuda
//   gloo      c10d's ProcessGroupGloo.hpp present AND the gloo headers it includes (the tree's own
//             include/gloo, else Debian's libgloo-dev; pip wheels ship none)
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

const choice = process.env.RANKSHIELD_LIBTORCH ?? '';
const python = process.env.PYTHON ?? 'python3';

const PY_FACTS = 'import torch, os, json; print(json.dumps({"root": os.path.dirname(torch.__file__), "abi": int(torch._C._GLIBCXX_USE_CXX11_ABI)}))';

/** Where the libtorch is, and torch's own ABI flag when a Python that imports it is at hand (one Python start: importing torch takes seconds). */
function torchFacts() {
  if (choice === '') return { root: null, abi: null };
  if (choice === 'python') {
    try {
      return JSON.parse(
        execFileSync(python, ['-c', PY_FACTS], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
          .trim()
          .split('\n')
          .pop(),
      );
    } catch (e) {
      throw new Error(
        `RANKSHIELD_LIBTORCH=python: \`${python} -c "import torch"\` failed (${String(e.stderr ?? e.message)
          .trim()
          .split('\n')
          .pop()}); set PYTHON to a python with torch`,
      );
    }
  }
  const root = path.resolve(choice);
  // A PyTorch installation's torch/ directory: ask the venv's python beside it, if there is one.
  const venvPython = path.join(root, '..', '..', '..', '..', 'bin', 'python3');
  if (existsSync(path.join(root, '__init__.py')) && existsSync(venvPython)) {
    try {
      const facts = JSON.parse(
        execFileSync(venvPython, ['-c', PY_FACTS], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
          .trim()
          .split('\n')
          .pop(),
      );
      if (path.resolve(facts.root) === root) return facts;
    } catch {
      // fall back to the libraries' symbols
    }
  }
  return { root, abi: null };
}

function describe() {
  const facts = torchFacts();
  const root = facts.root;
  const include = root === null ? '/usr/include' : path.join(root, 'include');
  const libDir = root === null ? findDebianLibDir() : path.join(root, 'lib');
  const apiInclude = path.join(include, 'torch', 'csrc', 'api', 'include');
  // 1.13 keeps it in the C++ API's include tree; 2.x also under include/torch.
  const versionH = [path.join(include, 'torch', 'version.h'), path.join(apiInclude, 'torch', 'version.h')].find(existsSync);
  if (versionH === undefined) {
    throw new Error(`no libtorch headers at ${include} (torch/version.h missing)${root === null ? ': install libtorch-dev, or set RANKSHIELD_LIBTORCH' : ''}`);
  }
  // 2.x's torch/version.h only includes torch/headeronly/version.h: follow includes of *version.h.
  let v = readFileSync(versionH, 'utf8');
  for (const m of v.matchAll(/#include\s*[<"]([^>"]*version\.h)[>"]/g)) {
    const f = path.join(include, m[1]);
    if (existsSync(f)) v += readFileSync(f, 'utf8');
  }
  const version =
    /TORCH_VERSION\s+"([^"]+)"/.exec(v)?.[1] ??
    ['MAJOR', 'MINOR', 'PATCH'].map((k) => new RegExp(`TORCH_VERSION_${k}\\s+(\\d+)`).exec(v)?.[1] ?? '?').join('.');
  const lib = (name) =>
    [
      path.join(libDir, `lib${name}.so`),
      ...(existsSync(libDir)
        ? readdirSync(libDir)
            .filter((f) => f.startsWith(`lib${name}.so.`))
            .map((f) => path.join(libDir, f))
        : []),
    ].find(existsSync);
  const torchCpu = lib('torch_cpu');
  if (torchCpu === undefined) throw new Error(`no libtorch_cpu.so in ${libDir}`);

  const cxxStd = cxxStandard(include, apiInclude);
  const abi = facts.abi === 0 || facts.abi === 1 ? facts.abi : cxx11Abi(lib('c10') ?? torchCpu);
  const abiSource = facts.abi === 0 || facts.abi === 1 ? 'torch._C._GLIBCXX_USE_CXX11_ABI' : 'library symbols';

  // CUDA: libtorch_cuda, and the runtime headers its ATen/cuda headers include.
  const torchCuda = lib('torch_cuda');
  // What ATen/cuda/CUDAContextLight.h includes, and what those include in turn: CUDA 13's pip
  // packages keep crt/ in nvidia-cuda-crt and nv/target (cuda_fp16.h's) in nvidia-cuda-cccl, which
  // not every torch wheel depends on (2.11's does not).
  const cudaHeaders = ['cuda_runtime_api.h', 'crt/host_defines.h', 'nv/target', 'cublas_v2.h', 'cublasLt.h', 'cusparse.h', 'cusolverDn.h'];
  let cudaIncludes = [];
  const cudaMissing = [];
  if (torchCuda !== undefined) {
    const dirs = cudaIncludeCandidates(root, include);
    for (const h of cudaHeaders) {
      const d = dirs.find((dir) => existsSync(path.join(dir, h)));
      if (d === undefined) cudaMissing.push(h);
      else if (!cudaIncludes.includes(d)) cudaIncludes.push(d);
    }
  }
  const cuda = torchCuda !== undefined && cudaMissing.length === 0;
  if (!cuda) cudaIncludes = [];

  // NCCL: the header, c10d's ProcessGroupNCCL header, and the class in libtorch_cuda.
  let nccl = false;
  let ncclInclude = null;
  if (cuda) {
    const d = [...cudaIncludeCandidates(root, include), '/usr/include'].find((dir) => existsSync(path.join(dir, 'nccl.h')));
    const hpp = existsSync(path.join(include, 'torch', 'csrc', 'distributed', 'c10d', 'ProcessGroupNCCL.hpp'));
    if (d !== undefined && hpp && exports(torchCuda, 'ProcessGroupNCCL')) {
      nccl = true;
      ncclInclude = d;
    }
  }

  const glooHpp = existsSync(path.join(include, 'torch', 'csrc', 'distributed', 'c10d', 'ProcessGroupGloo.hpp'));
  const glooInclude = [include, '/usr/include'].find((d) => existsSync(path.join(d, 'gloo', 'config.h')));
  const gloo = glooHpp && glooInclude !== undefined;
  return {
    root,
    include,
    libDir,
    version,
    cxxStd,
    abi,
    abiSource,
    cuda,
    cudaIncludes,
    ...(cudaMissing.length > 0 && torchCuda !== undefined ? { cudaMissing } : {}),
    nccl,
    ncclInclude,
    gloo,
    glooInclude: gloo ? path.join(glooInclude, 'gloo') : null,
  };
}

function findDebianLibDir() {
  for (const d of ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib']) if (existsSync(path.join(d, 'libtorch_cpu.so'))) return d;
  return '/usr/lib';
}

/** Where CUDA headers may be: pip's nvidia-* packages beside torch (CUDA 12: one per library; CUDA 13: nvidia/cu13), CUDA_HOME, /usr/local/cuda. */
function cudaIncludeCandidates(root, include) {
  const out = [include];
  if (root !== null) {
    const nv = path.join(path.dirname(root), 'nvidia');
    if (existsSync(nv)) for (const d of readdirSync(nv).sort()) out.push(path.join(nv, d, 'include'));
  }
  for (const home of [process.env.CUDA_HOME, process.env.CUDA_PATH, '/usr/local/cuda']) if (home) out.push(path.join(home, 'include'));
  return out.filter((d) => existsSync(d));
}

/** The C++ standard the headers require (-std=c++NN): the largest `__cplusplus < N` guard, at least C++17. */
function cxxStandard(include, apiInclude) {
  const files = [
    path.join(include, 'ATen', 'ATen.h'),
    path.join(apiInclude, 'torch', 'all.h'),
    path.join(include, 'c10', 'util', 'C++17.h'),
    path.join(include, 'c10', 'macros', 'Macros.h'),
  ];
  let need = 201703;
  for (const f of files.filter(existsSync)) {
    for (const m of readFileSync(f, 'utf8').matchAll(/__cplusplus\s*<\s*(\d{6})L/g)) need = Math.max(need, Number(m[1]));
  }
  const years = { 201402: 14, 201703: 17, 202002: 20, 202302: 23 };
  const n = years[need];
  if (n === undefined) throw new Error(`libtorch's headers ask for __cplusplus >= ${need}L, a standard this script does not know`);
  return `c++${n}`;
}

/** Whether a shared library exports a symbol containing `name` (its dynamic symbol table). */
function exports(so, name) {
  try {
    return execFileSync('nm', ['-D', '--defined-only', so], { encoding: 'utf8', maxBuffer: 1 << 28 }).includes(name);
  } catch {
    return false;
  }
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
const lists = {
  include_dirs: [
    d.include,
    path.join(d.include, 'torch', 'csrc', 'api', 'include'),
    ...d.cudaIncludes,
    ...(d.ncclInclude !== null && !d.cudaIncludes.includes(d.ncclInclude) ? [d.ncclInclude] : []),
  ],
  defines: [
    `_GLIBCXX_USE_CXX11_ABI=${d.abi}`,
    ...(d.gloo ? ['RANKSHIELD_C10D_GLOO', 'USE_C10D_GLOO'] : []),
    ...(d.cuda ? ['RANKSHIELD_CUDA'] : []),
    ...(d.nccl ? ['RANKSHIELD_C10D_NCCL', 'USE_C10D_NCCL'] : []),
  ],
  cflags: [`-std=${d.cxxStd}`],
  libraries: [
    ...(d.root === null ? [] : [`-L${d.libDir}`, `-Wl,-rpath,${d.libDir}`]),
    // --no-as-needed: libtorch_cuda registers its kernels when loaded; nothing references it by name.
    ...(d.cuda ? ['-Wl,--no-as-needed', '-ltorch_cuda', '-lc10_cuda', '-Wl,--as-needed'] : []),
    '-ltorch_cpu',
    '-lc10',
  ],
};
// `all`: every list and the description in one JSON object (one detection, for scripts/build-addon.sh).
const out = what === 'json' ? [JSON.stringify(d)] : what === 'all' ? [JSON.stringify({ ...lists, libtorch: d })] : lists[what];
if (out === undefined) {
  console.error('usage: node libtorch.js include_dirs|defines|cflags|libraries|json|all');
  process.exit(2);
}
console.log(out.join('\n'));
