"""Makes the golden reference files of test/golden with the PyTorch models of models.py, or checks the stored ones.

  /usr/bin/python3 bench/peer/make_goldens.py [--out DIR] [--only NAME,...]      write fresh goldens to DIR
  /usr/bin/python3 bench/peer/make_goldens.py --check [--golden DIR] [--only ...] recompute the stored ones and compare

Each model golden starts from float32 values (parameters, randomised BN statistics, input) and is computed in float64,
then stored as float32, so an implementation in float32 can be held to about 1e-5 relative. A fresh golden draws new
values and, for the spiking models, moves to the next seed until no membrane charge lies within MIN_MARGIN of its
threshold other than exact ties, so float32 rounding cannot flip a spike, and some spikes reach the head in eval mode
too. --check takes the stored param.* and input.*
tensors (and the LIF inputs) as they are, recomputes everything else and prints, per tensor, the largest difference
relative to the tensor's largest magnitude; it exits 1 when one exceeds --tol.
"""
import argparse
import json
import os
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# the product package
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'torch_engine'))
from geospike_torch.models import build, lif_margin, lif_rates, set_recording, MultiStepLIF  # noqa: E402
from geospike_torch.param_groups import no_decay_names, param_groups  # noqa: E402
from geospike_torch.safetensors_file import read_safetensors, write_safetensors  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN = os.path.join(REPO, 'test', 'golden')
MIN_MARGIN = 2e-5
LR, WEIGHT_DECAY, BETAS, EPS, LABEL_SMOOTHING = 5e-4, 6e-2, (0.9, 0.999), 1e-8, 0.1
ADAMW_STEPS = 3

# name -> (model, settings); the settings go into the file's metadata as they are.
MODEL_GOLDENS = {
    'spikformer-tiny': ('spikformer', dict(dim=32, depth=1, heads=1, T=2, classes=5, mlp_ratio=4, batch=2)),
    'sdt-tiny': ('sdt', dict(dim=32, depth=1, heads=2, T=2, classes=5, mlp_ratio=4, batch=2)),
    'resnet18-w8': ('resnet18', dict(width=8, classes=5, batch=3)),
}
COMMON_META = {
    'loss': f'cross_entropy(label_smoothing={LABEL_SMOOTHING}), mean over batch',
    'adamw': (f'lr={LR} wd={WEIGHT_DECAY} betas=({BETAS[0]},{BETAS[1]}) eps={EPS}, {ADAMW_STEPS} steps reusing grad.* '
              '(as stored, float32) from param.*, parameter groups of timm create_optimizer_v2 (filter_bias_and_bn): '
              'weight decay 0 for the names in adamw_no_decay'),
    'layout': 'PyTorch: conv OIHW, linear [out,in], input NCHW float32',
    'bn': 'eps=1e-5 momentum=0.1; after.* = running stats after the train forward',
}
LIF_META = {'neuron': 'multi-step LIF tau=2 v_reset=0 decay_input hard reset detach_reset, sigmoid surrogate alpha=4; '
                      'x is [T,n], time first'}
# reference.json: parameter counts of standard presets (heads dim / 32, T 4, mlp ratio 4) and one state-dict key list.
SPIKFORMER_PRESETS = [(4, 384), (4, 256), (2, 384)]
SDT_PRESETS = [(2, 512), (2, 256), (4, 384)]


def model_of(kind, s):
    return build(kind, dim=s.get('dim', 384), depth=s.get('depth', 4), heads=s.get('heads', 0), T=s.get('T', 4),
                 classes=s['classes'], width=s.get('width', 64))


def batch_norms(model):
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def randomise_batch_norms(model, x, gen):
    """Nontrivial BN affine parameters, and running statistics near those of the batch x but not equal to them, so
    the eval forward differs from the train forward yet stays in the range where neurons fire. (Running statistics
    drawn independently of the data leave the deeper layers of a freshly initialised spiking model silent in eval.)"""
    for m in batch_norms(model):
        with torch.no_grad():
            m.weight.copy_(torch.empty(m.num_features).uniform_(1.0, 1.5, generator=gen))
            m.bias.copy_(torch.empty(m.num_features).uniform_(-0.1, 0.3, generator=gen))
        m.reset_running_stats()
        m.momentum = None  # a cumulative average: after one forward, the batch's own statistics
    model.train()
    with torch.no_grad():
        model(x)
    for m in batch_norms(model):
        m.momentum = 0.1
        n = m.num_features
        with torch.no_grad():
            m.running_mean.add_(torch.empty(n).uniform_(-0.2, 0.2, generator=gen) * m.running_var.sqrt())
            m.running_var.mul_(torch.empty(n).uniform_(0.8, 1.25, generator=gen))
        m.num_batches_tracked.zero_()


def fresh_inputs(kind, s, seed):
    """Float32 parameters (official init, randomised BN) and a batch, drawn from `seed`."""
    torch.manual_seed(seed)
    model = model_of(kind, s)
    gen = torch.Generator().manual_seed(seed + 1)
    scale = 1.0 if kind == 'resnet18' else 1.5  # a wider input makes the first LIF layers fire more
    x = torch.randn(s['batch'], 3, 32, 32, generator=gen) * scale
    y = torch.randint(0, s['classes'], (s['batch'],), generator=gen).float()
    randomise_batch_norms(model, x, gen)
    params = {k: v.numpy().copy() for k, v in model.state_dict().items() if not k.endswith('num_batches_tracked')}
    return params, x.numpy(), y.numpy()


def compute_model_golden(kind, s, params, x, y):
    """Everything a model golden holds, computed in float64 from the given float32 values.
    Returns (tensors in file order, LIF rates of the train forward, smallest spike margin)."""
    model = model_of(kind, s)
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(v) for k, v in params.items()}, strict=False)
    missing = [k for k in missing if not k.endswith('num_batches_tracked')]
    if missing or unexpected:
        raise ValueError(f'parameters do not match the {kind} model: missing {missing}, unexpected {unexpected}')
    model = model.double()
    xd = torch.from_numpy(x).double()
    labels = torch.from_numpy(y).long()
    set_recording(model)

    model.eval()
    with torch.no_grad():
        eval_logits = model(xd)
    margin = lif_margin(model)

    model.train()
    set_recording(model)
    train_logits = model(xd)
    loss = F.cross_entropy(train_logits, labels, label_smoothing=LABEL_SMOOTHING)
    loss.backward()
    margin = min(margin, lif_margin(model))
    rates = lif_rates(model)

    out = {f'param.{k}': v for k, v in params.items()}
    out['input.x'], out['input.y'] = x, y
    out['eval.logits'] = eval_logits.numpy()
    out['train.logits'] = train_logits.detach().numpy()
    out['train.loss'] = loss.detach().reshape(1).numpy()
    for k, p in model.named_parameters():
        if p.grad is not None:
            out[f'grad.{k}'] = p.grad.numpy().copy()
    for k, m in model.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            out[f'after.{k}.running_mean'] = m.running_mean.numpy().copy()
            out[f'after.{k}.running_var'] = m.running_var.numpy().copy()
    out.update(adamw_steps(model))
    return out, rates, margin


def adamw_steps(model):
    """ADAMW_STEPS AdamW steps under timm's parameter groups (param_groups.py), each reusing the gradients as the file
    stores them (rounded to float32), so an implementation fed grad.* can be held to float32 rounding. A parameter
    without a gradient (an unused module) stays as it is. The model's parameters are the golden's param.* values."""
    for p in model.parameters():
        if p.grad is not None:
            p.grad = p.grad.float().double()
    opt = torch.optim.AdamW(param_groups(model, WEIGHT_DECAY), lr=LR, betas=BETAS, eps=EPS)
    for _ in range(ADAMW_STEPS):
        opt.step()
    return {f'adamw{ADAMW_STEPS}.{k}': p.detach().numpy().copy() for k, p in model.named_parameters()}


def model_metadata(kind, s, rates, margin, seed=None):
    meta = {'model': kind, **{k: str(v) for k, v in s.items()}}
    if seed is not None:
        meta['seed'] = str(seed)
    if kind != 'resnet18':
        meta['spike_rule'] = ('spike when h >= v_threshold (Heaviside(0)=1); '
                              f'min nonzero |h - v_th| over the train and eval forwards = {margin:.2g}')
        meta['train_lif_rates'] = json.dumps(rates)
    return {**meta, **COMMON_META, 'adamw_no_decay': json.dumps(no_decay_names(model_of(kind, s)))}


def fresh_model_golden(name, start_seed=0):
    kind, s = MODEL_GOLDENS[name]
    for seed in range(start_seed, start_seed + 1000):
        params, x, y = fresh_inputs(kind, s, seed)
        tensors, rates, margin = compute_model_golden(kind, s, params, x, y)
        # A spiking golden is kept only when float32 cannot flip a spike and some spikes reach the head in eval
        # mode too (otherwise eval.logits would be the head's bias alone).
        if kind == 'resnet18' or (margin >= MIN_MARGIN and np.abs(tensors['eval.logits']).max() > 0):
            return tensors, model_metadata(kind, s, rates, margin, seed)
        print(f'{name}: seed {seed} rejected (spike margin {margin:.1e}, '
              f'eval logits {"nonzero" if np.abs(tensors["eval.logits"]).max() > 0 else "all zero"})', file=sys.stderr)
    raise RuntimeError(f'{name}: no seed in 1000 keeps every charge {MIN_MARGIN} from its threshold')


def compute_lif(x, upstream, v_threshold):
    """Spikes of the multi-step LIF on x [T, n] and d(sum(spikes * upstream))/dx, in float64."""
    lif = MultiStepLIF(v_threshold=v_threshold)
    lif.record = True
    xd = torch.from_numpy(x).double().requires_grad_(True)
    spikes = lif(xd)
    (spikes * torch.from_numpy(upstream).double()).sum().backward()
    return spikes.detach().numpy(), xd.grad.numpy(), lif.margin


def fresh_lif_golden(seed=0):
    out = {}
    for v_threshold in (1.0, 0.5):
        for s in range(seed, seed + 1000):
            gen = torch.Generator().manual_seed(s)
            x = torch.empty(6, 64).uniform_(-0.4, 1.8, generator=gen).numpy()
            upstream = torch.randn(6, 64, generator=gen).numpy()
            spikes, grad_x, margin = compute_lif(x, upstream, v_threshold)
            if margin >= MIN_MARGIN:
                break
        p = f'vth{v_threshold}'
        out.update({f'{p}.x': x, f'{p}.spikes': spikes, f'{p}.upstream': upstream, f'{p}.grad_x': grad_x})
    return out, LIF_META


def count(model, skip):
    return sum(p.numel() for k, p in model.named_parameters() if not any(s in k for s in skip))


def reference_json():
    counts = {}
    for depth, dim in SPIKFORMER_PRESETS:
        for classes in (5, 10):
            m = build('spikformer', dim, depth, 0, 4, classes)
            counts[f'spikformer-{depth}-{dim}/{classes}'] = {
                'params_official': count(m, []), 'params_without_unused_layernorms': count(m, ['.norm1.', '.norm2.'])}
    for classes in (5, 10):
        m = build('resnet18', classes=classes)
        counts[f'resnet18/{classes}'] = {'params_official': count(m, []),
                                         'params_without_unused_layernorms': count(m, [])}
    keys = list(build('spikformer', 384, 4, 0, 4, 5).state_dict())
    return {'param_counts': counts, 'spikformer_4_384_state_dict_keys': keys}


def sdt_reference_json():
    counts = {}
    for depth, dim in SDT_PRESETS:
        for classes in (5, 10):
            m = build('sdt', dim, depth, 8, 4, classes)
            counts[f'sdt-{depth}-{dim}/{classes}'] = {
                'params_official': count(m, []), 'params_without_unused_talking_heads': count(m, ['talking_heads'])}
    return {'param_counts': counts, 'sdt_2_512_state_dict_keys': list(build('sdt', 512, 2, 8, 4, 5).state_dict())}


JSON_GOLDENS = {'reference.json': reference_json, 'sdt-reference.json': sdt_reference_json}


def pil():
    try:
        from PIL import Image
        return Image
    except ImportError:
        return None


def resize_pair(image_module, seed=0):
    """A 128x128 RGB test image (smooth gradients, edges and noise, which a resampler must all handle) and its
    32x32 PIL LANCZOS resize."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:128, 0:128].astype(np.float64)
    img = np.stack([xx * 2, yy * 2, 128 + 100 * np.sin(xx / 7) * np.cos(yy / 11)], axis=-1)
    img[40:88, 40:88] = [250, 20, 60]  # a sharp-edged square
    img += rng.normal(0, 12, img.shape)
    big = image_module.fromarray(np.clip(img, 0, 255).astype(np.uint8), 'RGB')
    return big, big.resize((32, 32), image_module.LANCZOS)


PNG_PAIR = ('resize-in-128.png', 'resize-out-32-pil-lanczos.png')
NO_PIL = 'PIL is not installed (apt-get install python3-pil): the resize PNG pair is not '


# Below this magnitude a tensor is numerically zero: the gradient of a bias that feeds a train-mode BatchNorm is zero
# analytically, so both sides hold float64 rounding noise (~1e-18), which AdamW then scales up to ~1e-13.
ZERO_FLOOR = 1e-6


def relative_difference(ours, stored):
    """Largest |ours - stored| over the largest |stored| (at least ZERO_FLOOR)."""
    ours, stored = np.asarray(ours, np.float64), np.asarray(stored, np.float64)
    if ours.shape != stored.shape:
        return float('inf')
    scale = max(np.abs(stored).max(initial=0.0), ZERO_FLOOR)
    return float(np.abs(ours - stored).max(initial=0.0) / scale)


def compare(name, ours, stored, tol, skip_prefixes=()):
    """Prints the largest relative difference per tensor; returns the number of failures."""
    failures = 0
    for k in sorted(set(ours) | set(stored), key=lambda k: list(stored).index(k) if k in stored else len(stored)):
        if k.startswith(skip_prefixes):
            continue
        if k not in ours or k not in stored:
            print(f'  FAIL {name} {k}: only in {"ours" if k in ours else "the stored file"}')
            failures += 1
            continue
        d = relative_difference(ours[k], stored[k])
        bad = d > tol
        failures += bad
        size = np.abs(stored[k]).max(initial=0.0)
        zero = f' (numerically zero: largest magnitude {size:.1e})' if size < ZERO_FLOOR else ''
        print(f'  {"FAIL" if bad else "ok  "} {name} {k}: {d:.2e}{zero}')
    return failures


def compare_rates(name, ours, stored_meta, tol):
    if 'train_lif_rates' not in stored_meta:
        return 0
    stored = json.loads(stored_meta['train_lif_rates'])
    if list(ours) != list(stored):
        print(f'  FAIL {name} train_lif_rates: layers differ: {list(ours)} vs {list(stored)}')
        return 1
    d = max(abs(ours[k] - stored[k]) for k in stored)
    print(f'  {"FAIL" if d > tol else "ok  "} {name} metadata train_lif_rates: largest difference {d:.2e}')
    return int(d > tol)


def check(args):
    failures = 0
    order_failures = 0
    for name in args.only:
        path = os.path.join(args.golden, name if '.' in name else f'{name}.safetensors')
        if name in MODEL_GOLDENS:
            stored, meta = read_safetensors(path)
            kind, s = MODEL_GOLDENS[name]
            params = {k[len('param.'):]: v for k, v in stored.items() if k.startswith('param.')}
            ours, rates, margin = compute_model_golden(kind, s, params, stored['input.x'], stored['input.y'])
            print(f'{name}: smallest nonzero spike margin {margin:.2g}' if kind != 'resnet18' else f'{name}:')
            failures += compare(name, ours, stored, args.tol, skip_prefixes=('param.', 'input.'))
            failures += compare_rates(name, rates, meta, args.tol)
            groups_same = json.loads(meta.get('adamw_no_decay', 'null')) == no_decay_names(model_of(kind, s))
            print(f'  {"ok  " if groups_same else "FAIL"} {name} metadata adamw_no_decay: '
                  f'{"the" if groups_same else "not the"} names timm\'s grouping gives weight decay 0')
            failures += not groups_same
            order_failures += list(ours) != list(stored)
        elif name == 'lif':
            stored, _ = read_safetensors(path)
            ours = {}
            for v_threshold in (1.0, 0.5):
                p = f'vth{v_threshold}'
                spikes, grad_x, margin = compute_lif(stored[f'{p}.x'], stored[f'{p}.upstream'], v_threshold)
                ours.update({f'{p}.x': stored[f'{p}.x'], f'{p}.spikes': spikes,
                             f'{p}.upstream': stored[f'{p}.upstream'], f'{p}.grad_x': grad_x})
                print(f'lif {p}: smallest nonzero spike margin {margin:.2g}')
            failures += compare(name, ours, stored, args.tol,
                                skip_prefixes=('vth1.0.x', 'vth1.0.upstream', 'vth0.5.x', 'vth0.5.upstream'))
        elif name in JSON_GOLDENS:
            with open(path) as f:
                same = json.load(f) == JSON_GOLDENS[name]()
            print(f'  {"ok  " if same else "FAIL"} {name}: {"identical" if same else "differs"}')
            failures += not same
        elif name == 'resize':
            image = pil()
            if image is None:
                print(NO_PIL + 'checked')
                continue
            big = image.open(os.path.join(args.golden, PNG_PAIR[0])).convert('RGB')
            small = np.asarray(big.resize((32, 32), image.LANCZOS), np.int16)
            stored = np.asarray(image.open(os.path.join(args.golden, PNG_PAIR[1])).convert('RGB'), np.int16)
            d = int(np.abs(small - stored).max())
            print(f'  {"ok  " if d == 0 else "FAIL"} resize: largest pixel difference {d}')
            failures += d != 0
    if order_failures:
        print(f'note: tensor order differs from the stored file in {order_failures} file(s) (names and values checked)')
    print(f'{"FAILED" if failures else "passed"}: {failures} tensor(s) beyond relative tolerance {args.tol:g}')
    return 1 if failures else 0


def refresh_adamw(args):
    """Rewrites the optimizer golden of the stored model files in place: every other tensor stays byte for byte as
    stored, the adamw* tensors and their metadata are recomputed from the stored param.*, input.* (via grad.*)."""
    for name in args.only:
        if name not in MODEL_GOLDENS:
            continue
        path = os.path.join(args.golden, f'{name}.safetensors')
        stored, meta = read_safetensors(path)
        kind, s = MODEL_GOLDENS[name]
        params = {k[len('param.'):]: v for k, v in stored.items() if k.startswith('param.')}
        ours, _, _ = compute_model_golden(kind, s, params, stored['input.x'], stored['input.y'])
        kept = {k: v for k, v in stored.items() if not k.startswith('adamw')}
        fresh = {k: v for k, v in ours.items() if k.startswith('adamw')}
        meta = {**meta, 'adamw': COMMON_META['adamw'], 'adamw_no_decay': json.dumps(no_decay_names(model_of(kind, s)))}
        write_safetensors(path, {**kept, **fresh}, meta)
        print(f'{name}: {len(fresh)} adamw tensors rewritten, {len(kept)} kept as stored')
    return 0


def generate(args):
    out = args.out or tempfile.mkdtemp(prefix='geospike-goldens-')
    os.makedirs(out, exist_ok=True)
    for name in args.only:
        if name in MODEL_GOLDENS:
            tensors, meta = fresh_model_golden(name, args.seed)
            write_safetensors(os.path.join(out, f'{name}.safetensors'), tensors, meta)
        elif name == 'lif':
            tensors, meta = fresh_lif_golden(args.seed)
            write_safetensors(os.path.join(out, 'lif.safetensors'), tensors, meta)
        elif name in JSON_GOLDENS:
            with open(os.path.join(out, name), 'w') as f:
                json.dump(JSON_GOLDENS[name](), f, indent=1)
        elif name == 'resize':
            image = pil()
            if image is None:
                print(NO_PIL + 'written')
                continue
            big, small = resize_pair(image, args.seed)
            big.save(os.path.join(out, PNG_PAIR[0]))
            small.save(os.path.join(out, PNG_PAIR[1]))
        print(f'wrote {name}', flush=True)
    print(f'goldens in {out}')
    return 0


ALL = [*MODEL_GOLDENS, 'lif', *JSON_GOLDENS, 'resize']


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--check', action='store_true', help='recompute the stored goldens and compare')
    p.add_argument('--refresh-adamw', action='store_true',
                   help='recompute only the AdamW tensors of the stored model goldens, in place')
    p.add_argument('--golden', default=GOLDEN, help='stored goldens to check (default: test/golden)')
    p.add_argument('--out', help='where fresh goldens go (default: a new temporary folder)')
    p.add_argument('--only', default=','.join(ALL), help=f'comma-separated subset of {",".join(ALL)}')
    p.add_argument('--seed', type=int, default=0, help='first seed tried for fresh goldens')
    p.add_argument('--tol', type=float, default=1e-5, help='largest relative difference --check accepts')
    p.add_argument('--threads', type=int, default=2)
    args = p.parse_args()
    args.only = [n for n in args.only.split(',') if n]
    unknown = [n for n in args.only if n not in ALL]
    if unknown:
        p.error(f'unknown golden(s) {unknown}; known: {",".join(ALL)}')
    torch.set_num_threads(args.threads)
    sys.exit(check(args) if args.check else refresh_adamw(args) if args.refresh_adamw else generate(args))


if __name__ == '__main__':
    main()
