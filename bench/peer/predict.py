"""The PyTorch side of geospike's label round trip. Loads a geospike checkpoint's weights (the official state dict) into
the peer's official model, classifies a dataset split read as torchvision's ImageFolder reads it (class folders sorted
by name, targets numbered in that order), and names every prediction by the weights file's own class list (metadata
`classes`, in the order of the head's outputs; `label_order` says which order that is), never by position.

  /usr/bin/python3 bench/peer/predict.py --checkpoint RUN/checkpoints/best.json [--weights FILE] --data DIR
                                         [--split validation] [--threads 2]

--weights reads another weights file (e.g. one exported in ImageFolder's order) with the checkpoint's model and
normalisation. Prints one JSON object: the weights' class order, ImageFolder's, and per image its predicted class
and its true class (from its folder), by name. Inputs are normalised as geospike does ((v * float32(1 / (255 std)) +
float32(-mean / std)), rounded to float32 once)."""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from epoch import read_png  # noqa: E402  (the peer's own PNG reader: no PIL needed)
# the product package
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'torch_engine'))
from geospike_torch.models import build  # noqa: E402
from geospike_torch.safetensors_file import read_safetensors  # noqa: E402


def model_of(config):
    """The official model a geospike sidecar's `model` config describes."""
    arch = config['arch']
    if arch == 'resnet18':
        return build('resnet18', classes=config['classes'], width=config['width'])
    return build(arch, dim=config['dim'], depth=config['depth'], heads=config['heads'], T=config['timeSteps'],
                 classes=config['classes'])


def image_folder(root):
    """(class names sorted, [(path, target)]) as torchvision.datasets.ImageFolder builds them."""
    classes = sorted(e.name for e in os.scandir(root) if e.is_dir())
    samples = [(os.path.join(root, c, f), t) for t, c in enumerate(classes)
               for f in sorted(os.listdir(os.path.join(root, c))) if f.endswith('.png')]
    return classes, samples


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--checkpoint', required=True, help="a geospike checkpoint's .json sidecar")
    p.add_argument('--weights', help="weights file to load instead of the sidecar's")
    p.add_argument('--data', required=True, help='a geospike dataset folder')
    p.add_argument('--split', default='validation')
    p.add_argument('--threads', type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)

    with open(a.checkpoint) as f:
        sidecar = json.load(f)
    weights = a.weights or os.path.join(os.path.dirname(a.checkpoint), os.path.basename(sidecar['files']['weights']))
    tensors, meta = read_safetensors(weights)
    if 'classes' in meta:
        head_classes, order = json.loads(meta['classes']), meta.get('label_order', 'unstated')
    else:  # written before weights files named their order: geospike's own, the sidecar's (classes.json) order
        head_classes, order = sidecar['classes'], 'dataset (assumed: the file names no order)'
        print(f'{weights} names no class order; assuming the sidecar\'s {head_classes}', file=sys.stderr)

    model = model_of(sidecar['model'])
    model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    model.eval()

    mean, std = np.asarray(sidecar['mean'], np.float64), np.asarray(sidecar['std'], np.float64)
    scale = (1 / (255 * std)).astype(np.float32).astype(np.float64)
    shift = (-mean / std).astype(np.float32).astype(np.float64)
    folder_classes, samples = image_folder(os.path.join(a.data, a.split))
    x = np.stack([read_png(path).astype(np.float64) * scale + shift for path, _ in samples]).astype(np.float32)
    with torch.no_grad():
        logits = model(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous())
    predicted = logits.argmax(1).tolist()
    rows = [{'image': os.path.relpath(path, a.data), 'class': head_classes[k], 'truth': folder_classes[t]}
            for (path, t), k in zip(samples, predicted)]
    print(json.dumps({'peer': 'pytorch-' + torch.__version__, 'weights': weights, 'weights_label_order': order,
                      'weights_classes': head_classes, 'imagefolder_classes': folder_classes, 'predictions': rows}))


if __name__ == '__main__':
    main()
