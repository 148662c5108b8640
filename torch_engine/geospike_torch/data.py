"""The geospike dataset folder, read as src/data/dataset.ts reads it (that file defines the format; this follows it):
classes.json (class names in label order), train/<class>/*.png and validation/<class>/*.png (32x32 RGB, file names
sorted within a class), per-channel mean and population std of pixel/255 over the train split, and batches that are
a pure function of (seed, epoch, batch): the same shuffle, 4-pixel black-padded random crop and horizontal flip,
drawn from the same seeded streams (rng.py), normalised through the same float32 lookup table. Images are NCHW here.
test/torch/cross_boundary.test.ts compares this with the TypeScript reader on one dataset."""
import json
import os
import re

import numpy as np

from .rng import Rng, hash32

IMAGE_SIZE = 32
PAD = 4
CLASS_NAME = re.compile(r'[a-z0-9][a-z0-9_-]{0,63}')  # src/data/manifest.ts CLASS_NAME, matched whole


class DatasetError(Exception):
    pass


def read_classes(root):
    path = os.path.join(root, 'classes.json')
    if not os.path.exists(path):
        raise DatasetError(f'{root} is not a dataset folder: classes.json is missing; create one with '
                           '`geospike collect` or `geospike import`')
    try:
        with open(path, encoding='utf-8') as f:
            value = json.load(f)
    except ValueError:
        raise DatasetError(f'{path} is not valid JSON; it should be an array of class names in label order')
    if not isinstance(value, list) or not value or not all(isinstance(c, str) for c in value):
        raise DatasetError(f'{path} must be a non-empty JSON array of class names in label order')
    for c in value:
        if not CLASS_NAME.fullmatch(c):
            raise DatasetError(f'{path} names class {json.dumps(c)}, which is not a class name (lowercase letters, '
                               'digits, _ or -); fix the file')
    if len(set(value)) != len(value):
        raise DatasetError(f'{path} names a class twice')
    return value


def read_png(path):
    """An image file as [32, 32, 3] uint8 RGB (grey expanded, alpha dropped, as sharp's removeAlpha does)."""
    from PIL import Image  # python3-pil

    try:
        with Image.open(path) as im:
            im = im.convert('RGBA').convert('RGB') if im.mode in ('P', 'LA', 'PA') else im.convert('RGB')
            arr = np.asarray(im, dtype=np.uint8)
    except OSError as err:
        raise DatasetError(f'{path} is not a readable PNG ({err}); delete it and its manifest line')
    if arr.shape != (IMAGE_SIZE, IMAGE_SIZE, 3):
        raise DatasetError(f'{path} is {arr.shape[1]}x{arr.shape[0]}; dataset images must be 32x32 RGB')
    return arr


def load_split(root, split, classes):
    """(images [n, 32, 32, 3] uint8 NHWC, labels [n] int64, ids): classes in label order, files sorted by name."""
    folder = os.path.join(root, split)
    if not os.path.isdir(folder):
        raise DatasetError(f'{folder} is missing; a dataset has train/ and validation/ folders')
    extra = sorted(e for e in os.listdir(folder) if os.path.isdir(os.path.join(folder, e)) and e not in classes)
    if extra:
        raise DatasetError(f'{folder} has folders not in classes.json: {", ".join(extra)}; add them to classes.json '
                           'or remove them')
    images, labels, ids = [], [], []
    for label, cls in enumerate(classes):
        d = os.path.join(folder, cls)
        # JS sorts by UTF-16 code units; for the ASCII names geospike writes that is Python's order too.
        names = sorted(n for n in os.listdir(d) if n.endswith('.png')) if os.path.isdir(d) else []
        if split == 'train' and not names:
            raise DatasetError(f"class '{cls}' has no training images ({d}/*.png); collect more or drop it from "
                               'classes.json')
        for name in names:
            images.append(read_png(os.path.join(d, name)))
            labels.append(label)
            ids.append(name[:-4])
    x = np.stack(images) if images else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    return x, np.array(labels, np.int64), ids


def channel_stats(images):
    """Per-channel mean and population std of pixel/255 (std 1 where it is 0), in float64 as the TypeScript sums."""
    v = images.reshape(-1, 3).astype(np.float64)
    count = v.shape[0]
    mean = v.sum(0) / count / 255
    sq = (v * v).sum(0)
    std = np.sqrt(np.maximum(0, sq / count / 65025 - mean * mean))
    std[std == 0] = 1
    return mean.tolist(), std.tolist()


def check_manifest(root, classes, splits):
    """manifest.jsonl, when present, must agree with the files: each image listed under its own split and class, and
    no more lines than images (src/data/dataset.ts checkManifest; a torn last line, a killed writer's, is ignored)."""
    path = os.path.join(root, 'manifest.jsonl')
    if not os.path.exists(path):
        return
    with open(path, encoding='utf-8') as f:
        text = f.read()
    if not text.endswith('\n'):
        text = text[:text.rfind('\n') + 1]
    listed = {}
    for i, line in enumerate(text.split('\n')):
        if not line.strip():
            continue
        try:
            e = json.loads(line)
            listed[e['id']] = (e['split'], e['class'])
        except (ValueError, KeyError, TypeError):
            raise DatasetError(f'{path}:{i + 1} is not a manifest line (JSON with id, split, class); fix or remove it')
    total = 0
    for split, (_, labels, ids) in splits.items():
        total += len(ids)
        for label, id_ in zip(labels, ids):
            e = listed.get(id_)
            if e != (split, classes[label]):
                where = f'listed as {e[0]}/{e[1]}' if e else 'not listed'
                raise DatasetError(f'{root}/{split}/{classes[label]}/{id_}.png is {where} in manifest.jsonl; '
                                   'the folder was edited by hand')
    if sum(1 for l in text.split('\n') if l.strip()) != total:
        raise DatasetError(f'manifest.jsonl lists {len(listed)} images but the folders hold {total}; '
                           'some files are missing')


class Dataset:
    def __init__(self, root):
        self.root = root
        self.classes = read_classes(root)
        self.train = load_split(root, 'train', self.classes)
        self.validation = load_split(root, 'validation', self.classes)
        if len(self.train[1]) == 0:
            raise DatasetError(f'{root}/train holds no images; collect or import a dataset first')
        check_manifest(root, self.classes, {'train': self.train, 'validation': self.validation})
        self.mean, self.std = channel_stats(self.train[0])


class Batches:
    """Batches of one split, as src/data/dataset.ts's BatchIterator: batch(epoch, b) -> (x [n, 3, 32, 32] float32
    normalised, y [n] int64). Each image's crop and flip come from one stream per (seed, 'augment', epoch, b)."""

    def __init__(self, split, batch_size, seed, mean, std, shuffle=True, augment=False, drop_last=False):
        self.images, self.labels = split[0], split[1]
        self.n = len(self.labels)
        self.batch_size, self.seed, self.shuffle, self.augment = batch_size, seed, shuffle, augment
        self.batches_per_epoch = self.n // batch_size if drop_last else -(-self.n // batch_size)
        if self.batches_per_epoch == 0:
            raise DatasetError(f'{self.n} images make no full batch of {batch_size}; lower the batch size')
        # (v/255 - mean)/std as one float32 multiply-add per level: the TypeScript lookup table, value for value.
        scale = np.array([1 / (255 * s) for s in std], np.float32)
        shift = np.array([-m / s for m, s in zip(mean, std)], np.float32)
        # Scale and shift are float32s, the multiply-add is in float64 and rounded once, as the JavaScript does.
        levels = np.arange(256, dtype=np.float64)
        self.lut = np.stack([levels * np.float64(scale[c]) + np.float64(shift[c]) for c in range(3)]).astype(np.float32)
        self._order_epoch, self._order = -1, None

    def order(self, epoch):
        if epoch != self._order_epoch:
            order = list(range(self.n))
            if self.shuffle:
                rng = Rng(hash32(self.seed, 'order', epoch))
                for i in range(self.n - 1, 0, -1):
                    j = rng.int(i + 1)
                    order[i], order[j] = order[j], order[i]
            self._order, self._order_epoch = np.array(order, np.int64), epoch
        return self._order

    def batch(self, epoch, index):
        if not 0 <= index < self.batches_per_epoch:
            raise IndexError(f'batch {index} is outside 0..{self.batches_per_epoch - 1}')
        start = index * self.batch_size
        idx = self.order(epoch)[start:start + self.batch_size]
        src = self.images[idx]  # [n, 32, 32, 3] uint8
        if self.augment:
            rng = Rng(hash32(self.seed, 'augment', epoch, index))
            padded = np.pad(src, ((0, 0), (PAD, PAD), (PAD, PAD), (0, 0)))
            out = np.empty_like(src)
            for k in range(len(idx)):
                dy = rng.int(2 * PAD + 1) - PAD
                dx = rng.int(2 * PAD + 1) - PAD
                flip = rng.uniform() < 0.5
                # Output (r, c) reads source (r + dy, c' + dx), c' = 31 - c when flipped; outside it, black (0),
                # which the table maps to the same normalised black as the TypeScript border.
                crop = padded[k, PAD + dy:PAD + dy + IMAGE_SIZE, PAD + dx:PAD + dx + IMAGE_SIZE]
                out[k] = crop[:, ::-1] if flip else crop
            x = np.stack([self.lut[c][out[..., c]] for c in range(3)], 1)  # [n, 3, 32, 32]
        else:
            x = np.stack([self.lut[c][src[..., c]] for c in range(3)], 1)
        return np.ascontiguousarray(x, np.float32), self.labels[idx]
