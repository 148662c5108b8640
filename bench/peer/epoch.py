"""A plain PyTorch training loop of geospike's recipe on a geospike dataset folder, timed per epoch: the peer of
`geospike bench --epoch --vs-pytorch`.
Recipe (as `geospike train` with mixup off): per-channel normalisation with the train split's mean/std, random crop
(4-pixel black padding) and horizontal flip, AdamW, per-step linear warm-up from min-lr then cosine to min-lr,
cross-entropy with label smoothing, validation each epoch, a checkpoint (model + optimizer) written each epoch.
The dataset's PNGs (8-bit RGB or grey, as geospike writes them) are read with zlib and numpy, so no PIL is needed.
Usage: /usr/bin/python3 bench/peer/epoch.py {spikformer|sdt|resnet18} --data DIR [--dim D --depth L --heads H --T T
       --width W --batch B --epochs N --threads K --lr --min-lr --weight-decay --warmup-epochs --label-smoothing --seed]
Prints one JSON line: per-epoch seconds (train loop, validation, checkpoint), images/s, BLAS kernel, sgemm GFLOP/s."""
import argparse, ctypes, json, math, os, resource, struct, sys, tempfile, time, zlib
import numpy as np
import torch, torch.nn.functional as F

# the product package
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'torch_engine'))
from geospike_torch.models import build  # noqa: E402  (torch_engine/geospike_torch/models.py)
from geospike_torch.param_groups import param_groups  # noqa: E402  (timm's weight-decay groups)


def unfilter(raw, h, stride, bpp):
    """Undo PNG's per-row filters (None, Sub, Up, Average, Paeth) into an [h, stride] uint8 array."""
    out = np.zeros((h, stride), np.uint8)
    prev = np.zeros(stride, np.int32)
    pos = 0
    for r in range(h):
        ftype = raw[pos]; row = np.frombuffer(raw, np.uint8, stride, pos + 1).astype(np.int32); pos += 1 + stride
        if ftype == 2:
            row = (row + prev) & 255
        elif ftype in (1, 3, 4):
            row = row.tolist(); up = prev.tolist()
            for i in range(stride):
                a = row[i - bpp] if i >= bpp else 0
                if ftype == 1:
                    p = a
                elif ftype == 3:
                    p = (a + up[i]) >> 1
                else:
                    b = up[i]; c = up[i - bpp] if i >= bpp else 0
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    p = a if pa <= pb and pa <= pc else b if pb <= pc else c
                row[i] = (row[i] + p) & 255
            row = np.array(row, np.int32)
        elif ftype != 0:
            raise ValueError(f'bad PNG filter {ftype}')
        out[r] = row; prev = row
    return out


def read_png(path):
    buf = open(path, 'rb').read()
    if buf[:8] != b'\x89PNG\r\n\x1a\n':
        raise ValueError(f'{path} is not a PNG')
    pos, idat, w = 8, [], 0
    while pos < len(buf):
        n, kind = struct.unpack('>I4s', buf[pos:pos + 8]); body = buf[pos + 8:pos + 8 + n]; pos += 12 + n
        if kind == b'IHDR':
            w, h, depth, colour, _, _, interlace = struct.unpack('>IIBBBBB', body)
            ch = {2: 3, 0: 1}.get(colour)
            if depth != 8 or ch is None or interlace:
                raise ValueError(f'{path}: only 8-bit RGB or grey, non-interlaced PNGs are read here')
        elif kind == b'IDAT':
            idat.append(body)
        elif kind == b'IEND':
            break
    img = unfilter(zlib.decompress(b''.join(idat)), h, w * ch, ch).reshape(h, w, ch)
    return np.repeat(img, 3, 2) if ch == 1 else img


def load_split(root, split, classes):
    xs, ys = [], []
    for label, cls in enumerate(classes):
        folder = os.path.join(root, split, cls)
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            if name.endswith('.png'):
                xs.append(read_png(os.path.join(folder, name))); ys.append(label)
    return np.stack(xs), np.array(ys, np.int64)


def blas_core():
    """The OpenBLAS kernel this process runs, asked of the loaded library itself."""
    for line in open('/proc/self/maps'):
        path = line.split()[-1]
        if 'openblas' in os.path.basename(path) and '.so' in path:
            try:
                fn = ctypes.CDLL(path).openblas_get_corename; fn.restype = ctypes.c_char_p
                return fn().decode()
            except (OSError, AttributeError):
                pass
    return 'unknown'


def sgemm_gflops():
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048); a @ b; t0 = time.perf_counter()
    for _ in range(3): a @ b
    return 3 * 2 * 2048 ** 3 / (time.perf_counter() - t0) / 1e9


def learning_rate(step, spe, a):
    e = step / spe
    if e < a.warmup_epochs:
        return a.min_lr + (a.lr - a.min_lr) * e / a.warmup_epochs
    progress = min((e - a.warmup_epochs) / max(a.epochs - a.warmup_epochs, 1e-9), 1)
    return a.min_lr + (a.lr - a.min_lr) * (1 + math.cos(math.pi * progress)) / 2


def main():
    p = argparse.ArgumentParser()
    p.add_argument('model'); p.add_argument('--data', required=True)
    p.add_argument('--dim', type=int, default=384); p.add_argument('--depth', type=int, default=4)
    p.add_argument('--heads', type=int, default=0); p.add_argument('--T', type=int, default=4)
    p.add_argument('--width', type=int, default=64)
    p.add_argument('--batch', type=int, default=64); p.add_argument('--epochs', type=int, default=1)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--lr', type=float, default=5e-4); p.add_argument('--min-lr', type=float, default=1e-5)
    p.add_argument('--weight-decay', type=float, default=0.06); p.add_argument('--warmup-epochs', type=float, default=0)
    p.add_argument('--label-smoothing', type=float, default=0.1); p.add_argument('--seed', type=int, default=0)
    a = p.parse_args(); torch.set_num_threads(a.threads); torch.manual_seed(a.seed); rng = np.random.default_rng(a.seed)

    t0 = time.perf_counter()
    # Labels by classes.json's order, as geospike numbers them (not ImageFolder's sorted order): label i is classes[i].
    classes = json.load(open(os.path.join(a.data, 'classes.json')))
    xtr, ytr = load_split(a.data, 'train', classes); xva, yva = load_split(a.data, 'validation', classes)
    f = xtr.reshape(-1, 3).astype(np.float64) / 255
    mean, std = f.mean(0), f.std(0)
    scale = torch.tensor(1 / (255 * std), dtype=torch.float32).view(1, 3, 1, 1)
    shift = torch.tensor(-mean / std, dtype=torch.float32).view(1, 3, 1, 1)
    padded = np.pad(xtr, ((0, 0), (4, 4), (4, 4), (0, 0)))  # black border, normalised with the rest
    val_x = torch.from_numpy(xva).permute(0, 3, 1, 2).float() * scale + shift
    load_seconds = time.perf_counter() - t0

    m = build(a.model, dim=a.dim, depth=a.depth, heads=a.heads, T=a.T, classes=len(classes), width=a.width)
    opt = torch.optim.AdamW(param_groups(m, a.weight_decay), lr=a.lr)
    n, B = len(xtr), a.batch; spe = n // B; step = 0
    out = tempfile.mkdtemp(prefix='geospike-peer-epoch-')
    epochs = []
    for epoch in range(a.epochs):
        te = time.perf_counter(); data_s = 0.0; m.train(); seen = correct = 0; loss_sum = 0.0
        order = rng.permutation(n)
        for b in range(spe):
            td = time.perf_counter()
            idx = order[b * B:(b + 1) * B]
            dy, dx, flip = rng.integers(0, 9, B), rng.integers(0, 9, B), rng.random(B) < 0.5
            crops = np.stack([padded[i, y:y + 32, x:x + 32] for i, y, x in zip(idx, dy, dx)])
            crops[flip] = crops[flip, :, ::-1]
            x = torch.from_numpy(crops).permute(0, 3, 1, 2).float() * scale + shift
            y = torch.from_numpy(ytr[idx]); data_s += time.perf_counter() - td
            for g in opt.param_groups: g['lr'] = learning_rate(step, spe, a)
            opt.zero_grad()
            logits = m(x); loss = F.cross_entropy(logits, y, label_smoothing=a.label_smoothing)
            loss.backward(); opt.step(); step += 1
            loss_sum += loss.item() * B; correct += (logits.argmax(1) == y).sum().item(); seen += B
        train_s = time.perf_counter() - te
        tv = time.perf_counter(); m.eval(); vloss = vcorrect = 0.0
        with torch.no_grad():
            for i in range(0, len(xva), B):
                logits = m(val_x[i:i + B]); yv = torch.from_numpy(yva[i:i + B])
                vloss += F.cross_entropy(logits, yv, reduction='sum').item()
                vcorrect += (logits.argmax(1) == yv).sum().item()
        val_s = time.perf_counter() - tv
        tc = time.perf_counter()
        torch.save({'model': m.state_dict(), 'optimizer': opt.state_dict(), 'epoch': epoch + 1},
                   os.path.join(out, 'last.pt'))
        ckpt_s = time.perf_counter() - tc
        epochs.append({'seconds': round(time.perf_counter() - te, 4), 'train_seconds': round(train_s, 4),
                       'data_seconds': round(data_s, 4),
                       'validation_seconds': round(val_s, 4), 'checkpoint_seconds': round(ckpt_s, 4),
                       'train_loss': round(loss_sum / seen, 5), 'train_acc': round(correct / seen, 5),
                       'val_loss': round(vloss / len(xva), 5), 'val_acc': round(vcorrect / len(xva), 5)})
    os.remove(os.path.join(out, 'last.pt')); os.rmdir(out)
    secs = sorted(e['seconds'] for e in epochs)
    half = len(secs) // 2
    med = secs[half] if len(secs) % 2 else (secs[half - 1] + secs[half]) / 2
    print(json.dumps({'peer': 'pytorch-' + torch.__version__, 'blas_core': blas_core(),
                      'sgemm_gflops': round(sgemm_gflops(), 1),
                      'model': a.model, 'classes': classes,
                      'label_order': 'dataset (classes.json, as geospike; not sorted)',
                      'batch': B, 'train_images': n, 'validation_images': len(xva), 'steps_per_epoch': spe,
                      'load_seconds': round(load_seconds, 3), 'sec_per_epoch': round(med, 4),
                      'images_per_s': round(spe * B / med, 2),
                      'epochs': epochs, 'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))


if __name__ == '__main__':
    main()
