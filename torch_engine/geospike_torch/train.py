"""`geospike train --engine torch`: the TypeScript trainer's recipe (src/train/loop.ts) in PyTorch, one process or one
per rank under torchrun. The TypeScript side resolves and checks the config and hands it over as JSON (one definition
of the settings); this reads the dataset itself (data.py), draws the same batches, crops, flips and mixup weights,
follows the same warm-up + cosine schedule, AdamW with timm's grouping (no weight decay on tensors of ndim <= 1 or
names ending in .bias), and writes the same run folder (run_folder.py) from rank 0 only.

  python3 -m geospike_torch.train --job JOB.json
JOB.json: {"train": TrainConfig, "model": ModelConfig, "resume": bool, "device": "auto|cpu|cuda",
           "amp": null|"bf16"|"fp16", "syncBn": bool}
The global batch is the run's batch, split in equal parts over the ranks, so the curves match one process."""
import argparse
import json
import math
import os
import signal
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from . import run_folder as rf
from .data import Batches, Dataset, DatasetError
from .distributed import World, convert_sync_bn
from .param_groups import no_decay_names
from .models import Spikformer, SpikeDrivenTransformer, ResNet18, MultiStepLIF, lif_rates, set_recording
from .rng import Rng, hash32, sample_beta

STREAM_KEYS = ['batch', 'seed']
ARCHITECTURE_KEYS = ['model', 'timeSteps']


class TrainingError(Exception):
    pass


def build_model(mc):
    if mc['arch'] == 'spikformer':
        return Spikformer(mc['dim'], mc['depth'], mc['heads'], mc['timeSteps'], mc['classes'], mc['mlpRatio'],
                          mc['inChannels'])
    if mc['arch'] == 'sdt':
        return SpikeDrivenTransformer(mc['dim'], mc['depth'], mc['heads'], mc['timeSteps'], mc['classes'],
                                      mc['mlpRatio'], mc['inChannels'])
    return ResNet18(mc['classes'], mc['width'], mc['inChannels'])


# The weight-decay rules a run's config.json records as `weightDecayRule` (src/train/param_groups.ts on the TypeScript
# side): timm's create_optimizer_v2 grouping for every new run; 'all' for a run started when geospike decayed every
# parameter (its config.json records no rule), which keeps that on resume.
TIMM_RULE, LEGACY_RULE = 'timm-filter-bias-and-bn', 'all'


def param_groups(model, weight_decay, rule=TIMM_RULE):
    """timm's rule (param_groups.py): no weight decay on biases and on tensors of one dimension or none (norms, BN)."""
    skip = set(no_decay_names(model)) if rule == TIMM_RULE else set()
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if name in skip else decay).append(p)
    return [{'params': decay, 'weight_decay': weight_decay}, {'params': no_decay, 'weight_decay': 0.0}]


def rule_of_run(config_path, say):
    try:
        with open(config_path, encoding='utf-8') as f:
            recorded = json.load(f).get('weightDecayRule')
    except (OSError, ValueError):
        recorded = None
    if recorded is None:
        say(f"{config_path} records no weightDecayRule: this run started decaying every parameter, and resumes so "
            f"('{LEGACY_RULE}'); a new run uses '{TIMM_RULE}'")
        return LEGACY_RULE
    if recorded not in (TIMM_RULE, LEGACY_RULE):
        raise TrainingError(f'{config_path} has weightDecayRule {json.dumps(recorded)}, which this geospike does not '
                            'know; resume it with the geospike that started it')
    return recorded


def learning_rate(step, cfg, steps_per_epoch):
    """src/train/schedule.ts: linear warm-up from minLr, then cosine to minLr at the last step."""
    e = step / steps_per_epoch
    lr, lo, w = cfg['lr'], cfg['minLr'], cfg['warmupEpochs']
    if e < w:
        return lo + (lr - lo) * e / w
    progress = min((e - w) / max(cfg['epochs'] - w, 1e-9), 1)
    return lo + (lr - lo) * (1 + math.cos(math.pi * progress)) / 2


def smooth_targets(y, k, smoothing):
    t = np.full((len(y), k), smoothing / k, np.float32)
    t[np.arange(len(y)), y] += np.float32(1 - smoothing)
    return t


def train_batch(it, cfg, epoch, b, k):
    """Batch b of epoch with its smoothed (and mixed) targets, as src/train/loop.ts trainBatch: the blend is computed
    in float64 and rounded to float32, as the TypeScript arrays are."""
    x, y = it.batch(epoch, b)
    t = smooth_targets(y, k, cfg['labelSmoothing'])
    if cfg['mixup'] > 0 and epoch < cfg['mixupOffEpoch']:
        lam = sample_beta(Rng(hash32(cfg['seed'], 'mixup', epoch, b)), cfg['mixup'], cfg['mixup'])
        x = (lam * x.astype(np.float64) + (1 - lam) * x[::-1].astype(np.float64)).astype(np.float32)
        t = (lam * t.astype(np.float64) + (1 - lam) * t[::-1].astype(np.float64)).astype(np.float32)
    return x, y, t


def fmt_duration(s):
    if not math.isfinite(s):
        return '?'
    h, m, sec = int(s // 3600), int(s % 3600 // 60), int(s % 60)
    return f'{h}h{m:02d}m' if h else f'{m}m{sec:02d}s' if m else f'{sec}s'


class Progress:
    """src/train/progress.ts: a redrawn line on a terminal, else a plain line every 20 s and at an epoch's end."""

    def __init__(self, interval=20):
        self.tty, self.interval, self.last = sys.stderr.isatty(), interval, 0.0

    def update(self, label, done, total, fields, eta):
        text = '  '.join(f'{k} {v}' for k, v in fields.items())
        now = time.time()
        if self.tty:
            bar = '#' * round(done / total * 24)
            sys.stderr.write(f'\r{label} [{bar.ljust(24, "-")}] {done}/{total}  {text}  eta {fmt_duration(eta)}\x1b[K')
        elif now - self.last >= self.interval or done == total:
            self.last = now
            sys.stderr.write(f'{label} {done}/{total}  {text}  eta {fmt_duration(eta)}\n')
        sys.stderr.flush()

    def line(self, text):
        sys.stderr.write(f'\r\x1b[K{text}\n' if self.tty else f'{text}\n')
        sys.stderr.flush()


def evaluate(model, it, device, rates=True):
    """Eval-mode pass over a split: (mean cross-entropy, correct, mean firing rate per LIF layer or None)."""
    model.eval()
    set_recording(model, rates)
    loss_sum, correct, sums = 0.0, 0, {}
    with torch.no_grad():
        for b in range(it.batches_per_epoch):
            x, y = it.batch(0, b)
            logits = model(torch.from_numpy(x).to(device)).float()
            yt = torch.from_numpy(y).to(device)
            loss_sum += F.cross_entropy(logits, yt, reduction='sum').item()
            correct += int((logits.argmax(1) == yt).sum().item())
            for k, v in lif_rates(model).items():
                sums[k] = sums.get(k, 0.0) + v * len(y)
    set_recording(model, False)
    model.train()
    return loss_sum / it.n, correct, ({k: v / it.n for k, v in sums.items()} or None)


def optimizer_moments(opt, named, arch):
    m, v, step = {}, {}, 0
    for name, p in named:
        st = opt.state.get(p)
        if st and 'exp_avg' in st:
            m[name] = rf.to_ts_layout(arch, name, st['exp_avg'])
            v[name] = rf.to_ts_layout(arch, name, st['exp_avg_sq'])
            step = int(st['step'])
    return (m, v), step


def load_optimizer(opt, named, arch, state):
    step, m, v = state
    params = dict(named)
    for name in m:
        if name not in params:
            raise TrainingError(f"the optimizer state names '{name}', which the model does not have")
        p = params[name]
        if m[name].size != p.numel():
            raise TrainingError(f"the optimizer state for '{name}' has {m[name].size} values, "
                                f'the parameter {p.numel()}')
        opt.state[p] = {
            'step': torch.tensor(float(step)),
            'exp_avg': torch.from_numpy(rf.from_ts_layout(arch, name, m[name], tuple(p.shape)).copy()).to(p.device),
            'exp_avg_sq': torch.from_numpy(rf.from_ts_layout(arch, name, v[name], tuple(p.shape)).copy()).to(p.device),
        }


def round6(v, digits=6):
    return float(f'{v:.{digits}f}')


def test_fault(point):
    spec = os.environ.get('GEOSPIKE_TEST_FAULT', '')
    return spec[len(point) + 1:] if spec.startswith(point + ':') else None


def run(job):
    cfg, mc = job['train'], job['model']
    world = World(job.get('device', 'auto'))
    log = Progress() if world.main else None
    say = (lambda line: log.line(line)) if world.main else (lambda line: None)
    p = rf.paths(cfg['out'])
    os.makedirs(p['checkpoints'], exist_ok=True)
    ds = Dataset(cfg['data'])
    if len(ds.validation[1]) == 0:
        raise TrainingError(f'{cfg["data"]} has no validation images; training needs them to report accuracy')
    if cfg['batch'] % world.size:
        raise TrainingError(f'the batch ({cfg["batch"]}) must split evenly over {world.size} processes; '
                            'choose a batch that is a multiple of --gpus x --nnodes')
    torch.manual_seed(cfg['seed'])
    model = build_model(mc)
    arch = mc['arch']
    engine_cfg = {**cfg, 'engine': 'torch'}
    meta = {'preset': cfg['model'], 'model': mc, 'classes': ds.classes, 'mean': ds.mean, 'std': ds.std,
            'epoch': 0, 'step': 0, 'cursor': {'epoch': 0, 'batch': 0}, 'best': None, 'train': engine_cfg,
            'partial': None, 'history': []}
    partial = {'loss': 0.0, 'correct': 0, 'seen': 0, 'seconds': 0.0}
    opt_state = None
    rule = TIMM_RULE
    if job.get('resume'):
        rule = rule_of_run(p['config'], say)
        prev, weights, opt_state = rf.read_checkpoint(p['last'])
        for key in ARCHITECTURE_KEYS + STREAM_KEYS:
            if prev['train'].get(key) != cfg[key]:
                raise TrainingError(f'cannot resume with {key} {json.dumps(cfg[key])}: the run was started with {key} '
                                    f'{json.dumps(prev["train"].get(key))}; drop the flag, '
                                    'or start a new run in another --out')
        if prev['classes'] != ds.classes:
            raise TrainingError(f'the dataset {cfg["data"]} has classes {ds.classes} but the run was trained on '
                                f'{prev["classes"]}; resume with the dataset it started on')
        if opt_state is None:
            raise TrainingError(f'{p["last"]} names no optimizer file; a run resumes only from a `last` checkpoint')
        changed = {k: [prev['train'].get(k), v] for k, v in engine_cfg.items() if prev['train'].get(k) != v}
        history = list(prev.get('history') or [])
        if changed:
            history.append({'atStep': prev['step'], 'changed': changed})
        meta = {**prev, 'train': engine_cfg, 'history': history}
        missing = [k for k in model.state_dict() if k not in weights]
        if missing:
            raise TrainingError(f"{p['last']}: missing key '{missing[0]}'; it was saved for another architecture")
        model.load_state_dict({k: torch.from_numpy(np.asarray(a)) for k, a in weights.items()})
        partial.update(prev.get('partial') or {})
        if world.main:
            rf.truncate_rows(cfg['out'], meta['epoch'])
        say(f'resuming {cfg["out"]} at epoch {meta["cursor"]["epoch"] + 1}, batch {meta["cursor"]["batch"]} '
            f'(step {meta["step"]})')
    model.to(world.device)
    if job.get('syncBn') and world.size > 1:
        model = convert_sync_bn(model, world.device)
    named = list(model.named_parameters())
    opt = torch.optim.AdamW(param_groups(model, cfg['weightDecay'], rule), lr=cfg['lr'], betas=(0.9, 0.999), eps=1e-8)
    if opt_state is not None:
        load_optimizer(opt, named, arch, opt_state)
    net = model
    if world.size > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        net = DDP(model, device_ids=[world.device.index] if world.device.type == 'cuda' else None,
                  find_unused_parameters=arch != 'resnet18')
    amp = job.get('amp')
    if amp and world.device.type != 'cuda':
        raise TrainingError(f'--amp {amp} needs CUDA, and this run is on the CPU; drop --amp or use --device cuda')
    amp_dtype = {'bf16': torch.bfloat16, 'fp16': torch.float16}.get(amp)
    scaler = None
    if amp == 'fp16':  # torch.amp.GradScaler from torch 2.3; torch.cuda.amp's before (deprecated after)
        scaler = torch.amp.GradScaler('cuda') if hasattr(torch.amp, 'GradScaler') else torch.cuda.amp.GradScaler()
    if world.main:
        import torch as _t

        config = {**cfg, 'modelConfig': mc, 'classes': ds.classes, 'weightDecayRule': rule, 'engine': 'torch',
                  'torch': {'version': _t.__version__, 'device': world.device.type, 'processes': world.size,
                            'amp': amp, 'syncBn': bool(job.get('syncBn'))}}
        rf.write_atomic(p['config'], json.dumps(config, indent=2))

    k = len(ds.classes)
    train_it = Batches(ds.train, cfg['batch'], cfg['seed'], meta['mean'], meta['std'], augment=True, drop_last=True)
    val_it = Batches(ds.validation, cfg['batch'], cfg['seed'], meta['mean'], meta['std'], shuffle=False)
    spe = train_it.batches_per_epoch
    per = cfg['batch'] // world.size
    # Each rank's rows of the global batch (the whole batch one process would take, mixed over all its rows first):
    # a contiguous share. torch's DistributedSampler would interleave the positions (rank r: r, r + W, ...), which
    # sums the same gradients in another order; Adam turns that noise into weight differences 10x larger (4.7e-5
    # against 5e-6 after an epoch of resnet18-w8 at lr 1e-3 on 2 gloo processes).
    rows = np.arange(world.rank * per, (world.rank + 1) * per)
    n_params = sum(p_.numel() for p_ in model.parameters())
    say(f'training {cfg["model"]} ({n_params:,} params) on {train_it.n} images, {spe} steps of {cfg["batch"]} per '
        f'epoch, {cfg["epochs"]} epochs, engine torch {torch.__version__} on {world.device.type}'
        + (f' x {world.size} processes' if world.size > 1 else '') + (f', amp {amp}' if amp else ''))

    stop = {'now': False}

    def on_signal(signum, frame):
        stop['now'] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    def save(kind, m):
        if not world.main:
            return None
        moments, opt_step = optimizer_moments(opt, named, arch) if kind == 'last' else (None, 0)
        return rf.save_checkpoint(p['checkpoints'], kind, model.state_dict(), moments, opt_step, m)

    status = 'finished'
    model.train()
    for epoch in range(meta['cursor']['epoch'], cfg['epochs']):
        first = meta['cursor']['batch'] if epoch == meta['cursor']['epoch'] else 0
        for b in range(first, spe):
            t0 = time.perf_counter()
            lr = learning_rate(meta['step'], cfg, spe)
            for g in opt.param_groups:
                g['lr'] = lr
            x, y, t = train_batch(train_it, cfg, epoch, b, k)
            xs = torch.from_numpy(np.ascontiguousarray(x[rows])).to(world.device, non_blocking=True)
            ts = torch.from_numpy(np.ascontiguousarray(t[rows])).to(world.device, non_blocking=True)
            ys = torch.from_numpy(y[rows]).to(world.device)
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device_type=world.device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                logits = net(xs)
            loss = -(ts * F.log_softmax(logits.float(), 1)).sum(1).mean()
            if scaler:
                scaler.scale(loss).backward()
                scaler.unscale_(opt)
            else:
                loss.backward()
            finite = all(torch.isfinite(p_.grad).all() for p_ in model.parameters() if p_.grad is not None)
            loss_sum, correct, finite_all = world.sum([loss.item() * per, float((logits.argmax(1) == ys).sum()),
                                                       float(finite)])
            applied = finite_all == world.size and math.isfinite(loss_sum)
            if scaler:
                scaler.step(opt) if applied else None
                scaler.update()
            elif applied:
                opt.step()
            if not math.isfinite(loss_sum):
                raise TrainingError(f'the loss became {loss_sum} at epoch {epoch + 1}, step {meta["step"] + 1} '
                                    f'(lr {lr:.2e}); training stopped and no checkpoint was overwritten '
                                    f'({p["last"]} is the last good one). Lower --lr or check the data.')
            if not applied:
                say(f'epoch {epoch + 1}, step {meta["step"] + 1}: a gradient was not finite; the update was skipped')
            meta['step'] += 1
            partial['loss'] += loss_sum
            partial['correct'] += int(correct)
            partial['seen'] += cfg['batch']
            partial['seconds'] += time.perf_counter() - t0
            rate = partial['seen'] / partial['seconds']
            if log:
                log.update(f'epoch {epoch + 1}/{cfg["epochs"]}', b + 1, spe,
                           {'loss': f'{partial["loss"] / partial["seen"]:.4f}',
                            'acc': f'{100 * partial["correct"] / partial["seen"]:.1f}%', 'img/s': f'{rate:.1f}'},
                           (spe - b - 1) * cfg['batch'] / rate)
            if test_fault('pause-after-step') == str(meta['step']) and world.main:
                sys.stderr.write(f'test fault: paused after step {meta["step"]}\n')
                sys.stderr.flush()
                deadline = time.time() + 120
                while not stop['now'] and time.time() < deadline:
                    time.sleep(0.005)
            stop_all = world.sum([float(stop['now'])])[0] > 0
            if stop_all:
                meta.update(epoch=epoch, cursor={'epoch': epoch, 'batch': b + 1}, partial=dict(partial))
                last = save('last', meta)
                say(f'stopped after step {meta["step"]}; checkpoint {last}')
                world.barrier()
                world.close()
                return 'interrupted', meta, last
        if world.main:
            val_loss, val_correct, rates = evaluate(model, val_it, world.device)
            val_acc = val_correct / val_it.n
            if not math.isfinite(val_loss):
                raise TrainingError(f'the validation loss became {val_loss} at epoch {epoch + 1}; training stopped '
                                    f'and no checkpoint was overwritten ({p["last"]} is the last good one). '
                                    'Lower --lr.')
            row = {'epoch': epoch + 1, 'train_loss': round6(partial['loss'] / partial['seen']),
                   'train_acc': round6(partial['correct'] / partial['seen']), 'val_loss': round6(val_loss),
                   'val_acc': round6(val_acc), 'lr': learning_rate(meta['step'] - 1, cfg, spe),
                   'epoch_seconds': round6(partial['seconds'], 3),
                   'images_per_s': round6(partial['seen'] / partial['seconds'], 2),
                   'firing_rate': round6(sum(rates.values()) / len(rates)) if rates else None}
            rf.append_row(cfg['out'], row, {'preset': cfg['model'], 'model': arch, 'step': meta['step'],
                                            'backend': f'torch-{world.device.type}', 'engine': 'torch',
                                            'rates': rates})
            fr = '' if row['firing_rate'] is None else f'  firing {100 * row["firing_rate"]:.2f}%'
            say(f'epoch {row["epoch"]}/{cfg["epochs"]}  train loss {row["train_loss"]:.4f} acc '
                f'{100 * row["train_acc"]:.2f}%  val loss {row["val_loss"]:.4f} acc {100 * row["val_acc"]:.2f}%  '
                f'{fmt_duration(row["epoch_seconds"])} ({row["images_per_s"]} img/s){fr}')
            improved = meta['best'] is None or val_acc > meta['best']['valAcc']
            meta.update(epoch=epoch + 1, cursor={'epoch': epoch + 1, 'batch': 0}, partial=None,
                        best={'valAcc': val_acc, 'epoch': epoch + 1} if improved else meta['best'])
            if improved:
                save('best', meta)  # best before last: a kill in between redoes this epoch and finds best written
            save('last', meta)
        else:
            meta.update(epoch=epoch + 1, cursor={'epoch': epoch + 1, 'batch': 0}, partial=None)
        partial = {'loss': 0.0, 'correct': 0, 'seen': 0, 'seconds': 0.0}
        world.barrier()
        if world.sum([float(stop['now'])])[0] > 0 and epoch + 1 < cfg['epochs']:
            say(f'stopped after epoch {epoch + 1}; checkpoint {p["last"]}')
            status = 'interrupted'
            break
    world.close()
    return status, meta, p['last']


def main(argv=None):
    ap = argparse.ArgumentParser(prog='geospike_torch.train')
    ap.add_argument('--job', required=True, help='JSON file written by `geospike train --engine torch`')
    a = ap.parse_args(argv)
    with open(a.job, encoding='utf-8') as f:
        job = json.load(f)
    try:
        status, meta, last = run(job)
    except (TrainingError, DatasetError) as err:
        sys.stderr.write(f'geospike: {err}\n')
        return 1
    if int(os.environ.get('RANK', '0')) == 0:
        print(json.dumps({'status': status, 'epochsDone': meta['epoch'], 'best': meta['best'], 'lastCheckpoint': last}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
