"""The run folder as src/train/run_folder.ts, src/train/checkpoint.ts and src/train/run_log.ts define it, written
the same way: safetensors under the official names (weights) and the TypeScript AdamW's layout (moments), the JSON
sidecar renamed over the old one last (the commit point), files no sidecar names swept after. Every write is a temp
file beside the target, fsynced, renamed, the folder fsynced: a kill -9 leaves the old checkpoint or the new one."""
import json
import os
import re
import secrets
import signal
from datetime import datetime, timezone

import numpy as np

from .safetensors_file import read_safetensors, safetensors_bytes

CHECKPOINT_FORMAT = 'geospike-checkpoint/1'
SUMMARY_COLUMNS = ['epoch', 'train_loss', 'train_acc', 'val_loss', 'val_acc', 'lr', 'epoch_seconds', 'images_per_s',
                   'firing_rate']


def paths(out):
    ck = os.path.join(out, 'checkpoints')
    return {'config': os.path.join(out, 'config.json'), 'summary': os.path.join(out, 'summary.csv'),
            'metrics': os.path.join(out, 'metrics.jsonl'), 'checkpoints': ck, 'last': os.path.join(ck, 'last.json')}


_renames = {'count': 0}


def _kill_before_rename(path):
    """GEOSPIKE_TEST_FAULT=kill-before-rename:NAME:N (src/util/test_fault.ts): SIGKILL this process when its Nth temp
    file for a file whose name contains NAME is written and synced, just before the rename. For tests only."""
    spec = os.environ.get('GEOSPIKE_TEST_FAULT', '')
    if not spec.startswith('kill-before-rename:'):
        return
    name, _, n = spec[len('kill-before-rename:'):].rpartition(':')
    if name in os.path.basename(path):
        _renames['count'] += 1
        if str(_renames['count']) == n:
            os.kill(os.getpid(), signal.SIGKILL)


def write_atomic(path, data):
    if isinstance(data, str):
        data = data.encode()
    d, base = os.path.split(path)
    tmp = os.path.join(d, f'.{base}.{os.getpid()}.{secrets.token_hex(6)}.tmp')
    try:
        with open(tmp, 'xb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        _kill_before_rename(path)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fd = os.open(d or '.', os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on folders
    finally:
        os.close(fd)


# ---------------------------------------------------------------- the TypeScript layouts of the optimizer moments

def is_ts_conv(arch, name, shape):
    """Whether the TypeScript model keeps this parameter as an HWIO convolution (src/models/layers.ts Conv2d);
    the SDT's 1x1 convolutions in its blocks are linears there ('flat': the same values in the same order)."""
    if len(shape) != 4:
        return False
    return not (arch == 'sdt' and name.startswith('block.') and tuple(shape[2:]) == (1, 1))


def to_ts_layout(arch, name, t):
    a = t.detach().float().cpu().numpy()
    return (a.transpose(2, 3, 1, 0) if is_ts_conv(arch, name, a.shape) else a).reshape(-1)


def from_ts_layout(arch, name, flat, shape):
    if is_ts_conv(arch, name, shape):
        o, i, kh, kw = shape
        return np.ascontiguousarray(flat.reshape(kh, kw, i, o).transpose(3, 2, 0, 1))
    return flat.reshape(shape)


# ------------------------------------------------------------------------------------------------ checkpoints

def save_checkpoint(ck_dir, kind, state_dict, moments, opt_step, meta):
    """state_dict: name -> tensor (official names); moments: None or (m, v) name -> flat float32 in the TS layout."""
    stem = f'{kind}-{meta["step"]:08d}'
    weights = f'{stem}.safetensors'
    optim = f'{stem}.optim.safetensors' if moments is not None else None
    tensors = {k: v.detach().cpu().numpy() for k, v in state_dict.items()}
    for name, a in tensors.items():
        if a.dtype.kind == 'f' and not np.isfinite(a).all():
            raise RuntimeError(f'checkpoint {kind} refused: {name} holds a value that is not finite')
    write_atomic(os.path.join(ck_dir, weights),
                 safetensors_bytes(tensors, {'format': CHECKPOINT_FORMAT, 'preset': meta['preset'],
                                             # the head's outputs are in classes.json's order, and the file says so
                                             'classes': json.dumps(meta['classes'], separators=(',', ':')),
                                             'label_order': 'dataset'}))
    if optim:
        m, v = moments
        entries = {**{f'm.{k}': a for k, a in m.items()}, **{f'v.{k}': a for k, a in v.items()}}
        write_atomic(os.path.join(ck_dir, optim), safetensors_bytes(entries, {'step': str(opt_step)}))
    sidecar = {'format': CHECKPOINT_FORMAT,
               'savedAt': datetime.now(timezone.utc).isoformat(timespec='milliseconds').replace('+00:00', 'Z'),
               **{k: v for k, v in meta.items() if v is not None or k == 'best'},
               'files': {'weights': weights, 'optimizer': optim}}
    path = os.path.join(ck_dir, f'{kind}.json')
    write_atomic(path, json.dumps(sidecar, indent=1))
    mine = re.compile(rf'^({kind}-\d+(\.optim)?\.safetensors|\.{kind}[-.].*\.tmp)$')
    for f in os.listdir(ck_dir):
        if mine.match(f) and f not in (weights, optim):
            try:
                os.unlink(os.path.join(ck_dir, f))
            except OSError:
                pass
    return path


def read_checkpoint(path):
    """(meta without format/savedAt/files, weights dict, optimizer (step, m, v) or None)."""
    with open(path, encoding='utf-8') as f:
        sidecar = json.load(f)
    if sidecar.get('format') != CHECKPOINT_FORMAT:
        raise RuntimeError(f"{path} is not a geospike checkpoint (format '{sidecar.get('format')}')")
    d = os.path.dirname(path)
    files = sidecar.pop('files')
    sidecar.pop('format')
    sidecar.pop('savedAt', None)
    weights, _ = read_safetensors(os.path.join(d, os.path.basename(files['weights'])))
    optim = None
    if files.get('optimizer'):
        tensors, md = read_safetensors(os.path.join(d, os.path.basename(files['optimizer'])))
        step = int(md['step'])
        if step > sidecar['step']:
            raise RuntimeError(f'{files["optimizer"]}: step {step} exceeds the checkpoint\'s {sidecar["step"]}; '
                               'the optimizer file is damaged')
        m = {k[2:]: a for k, a in tensors.items() if k.startswith('m.')}
        v = {k[2:]: a for k, a in tensors.items() if k.startswith('v.')}
        optim = (step, m, v)
    return sidecar, weights, optim


# ------------------------------------------------------------------------------------------ summary and metrics

def append_row(out, row, extra):
    p = paths(out)
    if not os.path.exists(p['summary']):
        with open(p['summary'], 'a') as f:
            f.write(','.join(SUMMARY_COLUMNS) + '\n')
    with open(p['summary'], 'a') as f:
        f.write(','.join('' if row[c] is None else js_number(row[c]) for c in SUMMARY_COLUMNS) + '\n')
    with open(p['metrics'], 'a') as f:
        f.write(json.dumps({**row, **extra}, separators=(',', ':')) + '\n')


def js_number(v):
    """A number as JavaScript's String() prints it (1 not 1.0) for the rows TypeScript reads back."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return str(int(v))
    return repr(v) if isinstance(v, float) else str(v)


def truncate_rows(out, epochs):
    """Keeps rows of epochs <= epochs (a run killed between its row and its checkpoint wrote one too many)."""
    p = paths(out)
    if os.path.exists(p['summary']):
        lines = [l for l in open(p['summary']).read().split('\n') if l]
        kept = lines[:1] + [l for l in lines[1:] if float(l.split(',')[0]) <= epochs]
        write_atomic(p['summary'], ''.join(l + '\n' for l in kept))
    if os.path.exists(p['metrics']):
        kept = []
        for l in open(p['metrics']).read().split('\n'):
            try:
                if l and json.loads(l)['epoch'] <= epochs:
                    kept.append(l)
            except ValueError:
                pass  # a line torn by a kill mid-append
        write_atomic(p['metrics'], ''.join(l + '\n' for l in kept))
