"""PyTorch peer of `geospike bench --vs-pytorch`: times the same model, batch, T and thread count in PyTorch.

  /usr/bin/python3 bench/peer/step.py {spikformer|sdt|resnet18} [--dim D --depth L --heads H --T T --width W
      --batch B --iters N --threads K --classes C --infer]

A training step is forward, cross-entropy (label smoothing 0.1), backward and AdamW (lr 5e-4, weight decay 6e-2),
as geospike's bench does; --infer times eval-mode forwards without autograd. One untimed step first, then N timed;
prints one JSON line: the median seconds per batch, images/s, peak RSS, the parameter count, and the BLAS it ran
(blas_core, sgemm_gflops) because PyTorch's convolutions and linears on CPU go through it.
The BLAS core is left to OpenBLAS's own choice or to the caller's environment (OPENBLAS_CORETYPE); nothing here sets it.
"""
import argparse
import ctypes
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

# the product package
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'torch_engine'))
from geospike_torch.models import build  # noqa: E402
from geospike_torch.param_groups import param_groups  # noqa: E402  (timm's weight-decay groups)

LR, WEIGHT_DECAY, LABEL_SMOOTHING = 5e-4, 6e-2, 0.1


def blas_core():
    """The kernel family the loaded OpenBLAS picked (e.g. 'Haswell', 'SkylakeX', 'Zen'), or 'unknown'."""
    try:
        with open('/proc/self/maps') as f:
            libs = sorted({line.split()[-1] for line in f if 'openblas' in line and '.so' in line})
        for lib in libs:
            get = getattr(ctypes.CDLL(lib), 'openblas_get_corename', None)
            if get:
                get.restype = ctypes.c_char_p
                return get().decode()
    except OSError:
        pass
    return 'unknown'


def sgemm_gflops(n=1024, reps=5):
    """Measured float32 matrix-multiply rate: n x n times n x n, `reps` times after one warm-up."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    t0 = time.perf_counter()
    for _ in range(reps):
        torch.mm(a, b)
    return reps * 2 * n ** 3 / (time.perf_counter() - t0) / 1e9


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('model', choices=['spikformer', 'sdt', 'resnet18'])
    p.add_argument('--dim', type=int, default=384)
    p.add_argument('--depth', type=int, default=4)
    p.add_argument('--heads', type=int, default=0, help='default: dim / 32 (Spikformer), 8 (SDT)')
    p.add_argument('--T', type=int, default=4)
    p.add_argument('--width', type=int, default=64, help='ResNet18 base width')
    p.add_argument('--batch', type=int, default=64)
    p.add_argument('--iters', type=int, default=3)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--classes', type=int, default=5)
    p.add_argument('--infer', action='store_true')
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)

    model = build(a.model, a.dim, a.depth, a.heads, a.T, a.classes, a.width)
    params = sum(t.numel() for t in model.parameters())
    opt = torch.optim.AdamW(param_groups(model, WEIGHT_DECAY), lr=LR)
    x = torch.rand(a.batch, 3, 32, 32) * 2 - 1
    y = torch.arange(a.batch) % a.classes

    def step():
        if a.infer:
            model.eval()
            with torch.no_grad():
                model(x)
            return
        model.train()
        opt.zero_grad()
        F.cross_entropy(model(x), y, label_smoothing=LABEL_SMOOTHING).backward()
        opt.step()

    step()
    times = []
    for _ in range(a.iters):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    sec = statistics.median(times)
    print(json.dumps({
        'peer': f'pytorch-{torch.__version__}', 'model': a.model, 'dim': a.dim, 'depth': a.depth, 'T': a.T,
        'batch': a.batch, 'mode': 'infer' if a.infer else 'train', 'params': params,
        'sec_per_batch': round(sec, 4), 'images_per_s': round(a.batch / sec, 2),
        'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        'blas_core': blas_core(), 'openblas_coretype': os.environ.get('OPENBLAS_CORETYPE', 'auto'),
        'sgemm_gflops': round(sgemm_gflops(), 1),
    }))


if __name__ == '__main__':
    main()
