// `geospike info --engines`: which trainers can run here. ts always can (its compute backends are the backend
// module's business); torch needs a Python with torch, and CUDA devices (NCCL for several) to use a GPU.
import { probeTorch, whyTorchCannotRun, type TorchInfo } from './python.js';

export interface EnginesReport {
  ts: { available: true };
  torch: TorchInfo & { available: boolean; cuda: string | null };
}

export function enginesReport(): EnginesReport {
  const info = probeTorch();
  const problem = whyTorchCannotRun(info, 'auto', 1);
  const cuda =
    info.problem === null
      ? (whyTorchCannotRun(info, 'cuda', 1) ??
        (info.cudaDevices.length > 1 && !info.nccl ? 'CUDA devices without NCCL: --gpus N > 1 runs on gloo' : null))
      : info.problem;
  return { ts: { available: true }, torch: { ...info, available: problem === null, cuda } };
}

export function formatEngines(r: EnginesReport): string {
  const t = r.torch;
  const lines = ['engines', '  ts      available (this process; --backend chooses cpu, native or webgpu)'];
  if (!t.available) lines.push(`  torch   cannot run: ${t.problem}`);
  else {
    lines.push(`  torch   torch ${t.torch} via ${t.python} (CUDA build ${t.cudaBuild ?? 'none'})`);
    lines.push(
      t.cudaDevices.length
        ? `          CUDA devices: ${t.cudaDevices.map((d, i) => `${i}: ${d}`).join(', ')}; NCCL ${
            t.nccl ?? 'not available'
          }; bf16 ${t.bf16 ? 'yes' : 'no'}`
        : `          no CUDA device, so --device cuda, --amp and NCCL cannot run: ${t.cuda}`,
    );
  }
  return lines.join('\n');
}
