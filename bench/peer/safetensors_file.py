"""Reads float32 (and int64) and writes float32 safetensors files (8-byte little-endian header length, JSON header,
raw data), the format of test/golden and of geospike's checkpoints. Written here because Debian packages no Python safetensors; numpy does the bytes."""
import json
import struct

import numpy as np


def read_safetensors(path):
    """Returns (tensors, metadata): an ordered dict name -> numpy array (float32, or int64), in the file's header order."""
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    metadata = header.pop('__metadata__', {})
    tensors = {}
    for name, info in header.items():
        dtype = {'F32': '<f4', 'I64': '<i8'}.get(info['dtype'])  # I64: a checkpoint's BN num_batches_tracked
        if dtype is None:
            raise ValueError(f'{path}: tensor {name} is {info["dtype"]}; only F32 and I64 are read here')
        begin, end = info['data_offsets']
        tensors[name] = np.frombuffer(raw[8 + n + begin:8 + n + end], dtype=dtype).reshape(info['shape']).copy()
    return tensors, metadata


def write_safetensors(path, tensors, metadata=None):
    """Writes name -> array (any float) as F32 in the given order; metadata values must be strings."""
    header = {}
    if metadata:
        header['__metadata__'] = {k: str(v) for k, v in metadata.items()}
    blobs, offset = [], 0
    for name, array in tensors.items():
        data = np.ascontiguousarray(np.asarray(array, dtype='<f4')).tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(np.shape(array)), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * (-len(text) % 8)  # the data starts 8-byte aligned
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + b''.join(blobs))
