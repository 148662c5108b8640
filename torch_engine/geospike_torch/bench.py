"""Training-step throughput of the torch engine on random 32x32 images: forward, soft-target cross-entropy, backward,
AdamW (timm grouping), as train.py's step does; the images never leave the device, so this is the model's speed
alone. Used by scripts/gpu-check.sh.
  python3 -m geospike_torch.bench --preset-json '{"arch": "spikformer", ...}' --batch 64 --steps 10 --warmup 3
      [--device auto|cpu|cuda] [--amp bf16|fp16] [--channels-last]
Prints one JSON line: seconds per step (median), images/s, peak GPU memory, device name, torch version."""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

from .train import build_model, param_groups


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--preset-json', required=True)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--steps', type=int, default=10)
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--device', default='auto')
    ap.add_argument('--amp', default=None, choices=['bf16', 'fp16'])
    a = ap.parse_args()
    mc = json.loads(a.preset_json)
    cuda = torch.cuda.is_available() and a.device != 'cpu'
    if a.device == 'cuda' and not cuda:
        raise SystemExit('geospike: --device cuda but this torch sees no CUDA device')
    if a.amp and not cuda:
        raise SystemExit(f'geospike: --amp {a.amp} runs on CUDA only')
    dev = torch.device('cuda' if cuda else 'cpu')
    torch.manual_seed(0)
    model = build_model(mc).to(dev).train()
    opt = torch.optim.AdamW(param_groups(model, 0.06), lr=5e-4)
    dtype = {'bf16': torch.bfloat16, 'fp16': torch.float16}.get(a.amp)
    scaler = None
    if a.amp == 'fp16':
        scaler = torch.amp.GradScaler('cuda') if hasattr(torch.amp, 'GradScaler') else torch.cuda.amp.GradScaler()
    x = torch.randn(a.batch, mc['inChannels'], mc['imageSize'], mc['imageSize'], device=dev)
    labels = torch.randint(0, mc['classes'], (a.batch,), device=dev)
    t = F.one_hot(labels, mc['classes']).float() * 0.9 + 0.1 / mc['classes']

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type=dev.type, dtype=dtype, enabled=dtype is not None):
            logits = model(x)
        loss = -(t * F.log_softmax(logits.float(), 1)).sum(1).mean()
        if scaler:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        step()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    sec = statistics.median(times)
    print(json.dumps({'torch': torch.__version__, 'device': torch.cuda.get_device_name(0) if cuda else 'cpu',
                      'arch': mc['arch'], 'batch': a.batch, 'amp': a.amp, 'sec_per_step': round(sec, 5),
                      'images_per_s': round(a.batch / sec, 1),
                      'peak_gpu_mb': round(torch.cuda.max_memory_allocated() / 2**20) if cuda else None}))


if __name__ == '__main__':
    main()
