// Where the torch engine runs: a Python 3 with torch (GEOSPIKE_PYTHON, else Debian's /usr/bin/python3, else python3
// on PATH) and the package torch_engine/geospike_torch of this checkout. `probeTorch` asks that Python what it has
// (torch version, CUDA devices, NCCL) and says why the engine cannot run when it cannot.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const PYTHON_ENV = 'GEOSPIKE_PYTHON';
/** The folder that holds the geospike_torch package (dist/src/torch -> the repository's torch_engine). */
export const TORCH_ENGINE_DIR = fileURLToPath(new URL('../../../torch_engine', import.meta.url));

export function pythonPath(): string {
  const set = process.env[PYTHON_ENV];
  if (set) return set;
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

/** The environment a torch-engine process runs with: the package importable, nothing else changed. */
export function pythonEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const path = [TORCH_ENGINE_DIR, process.env.PYTHONPATH].filter(Boolean).join(':');
  return { ...process.env, PYTHONPATH: path, PYTHONUNBUFFERED: '1', ...extra };
}

export interface TorchInfo {
  python: string;
  /** Null when torch cannot be imported; `problem` says why. */
  torch: string | null;
  cudaBuild: string | null;
  cudaDevices: string[];
  nccl: string | null;
  bf16: boolean;
  problem: string | null;
}

const PROBE = `
import json
try:
    import torch, numpy
    from PIL import Image
except ImportError as e:
    print(json.dumps({'torch': None, 'problem': str(e)})); raise SystemExit
cuda = torch.cuda.is_available()
devs = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else []
nccl = None
try:
    import torch.distributed as d
    if cuda and d.is_nccl_available():
        v = torch.cuda.nccl.version()
        nccl = '.'.join(map(str, v)) if isinstance(v, tuple) else str(v)
except Exception:
    pass
print(json.dumps({'torch': torch.__version__, 'cudaBuild': torch.version.cuda, 'cudaDevices': devs, 'nccl': nccl,
                  'bf16': bool(cuda and torch.cuda.is_bf16_supported()), 'problem': None}))
`;

/** What the torch engine would run on here. Never throws: a missing Python or torch is `problem`. */
export function probeTorch(): TorchInfo {
  const python = pythonPath();
  const base = { python, torch: null, cudaBuild: null, cudaDevices: [], nccl: null, bf16: false };
  const r = spawnSync(python, ['-c', PROBE], { encoding: 'utf8', env: pythonEnv(), timeout: 120_000 });
  if (r.error) {
    return { ...base, problem: `cannot run ${python} (${r.error.message}); install python3 or set ${PYTHON_ENV}` };
  }
  try {
    const got = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Partial<TorchInfo>;
    if (!got.torch) {
      return {
        ...base,
        problem:
          `${python} cannot import what the torch engine needs (${got.problem}); run \`bash scripts/setup.sh\` ` +
          `(Debian's python3-torch, python3-pil) or point ${PYTHON_ENV} at a Python that has torch`,
      };
    }
    return { ...base, ...got, problem: null } as TorchInfo;
  } catch {
    return {
      ...base,
      problem: `${python} did not answer the torch probe: ${(r.stderr || r.stdout).trim().slice(-300)}`,
    };
  }
}

/** Why a torch run on `device` with `gpus` processes per node cannot start here, or null when it can. */
export function whyTorchCannotRun(info: TorchInfo, device: string, gpus: number): string | null {
  if (info.problem) return info.problem;
  const cuda = info.cudaDevices.length;
  if (device === 'cuda' && cuda === 0) {
    return (
      `--device cuda: torch ${info.torch} here sees no CUDA device (CUDA build ${info.cudaBuild ?? 'none'}); ` +
      'install a CUDA build of torch (docs/torch-engine.md) or use --device cpu'
    );
  }
  if (device !== 'cpu' && cuda > 0 && gpus > cuda) {
    return `--gpus ${gpus}: this machine has ${cuda} CUDA device${cuda === 1 ? '' : 's'}; ask for at most ${cuda}`;
  }
  return null;
}
