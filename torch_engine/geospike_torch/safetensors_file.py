"""Reads and writes safetensors files (8-byte little-endian header length, JSON header, raw data): F32 tensors, and
I64 ones (BatchNorm's num_batches_tracked), as geospike's src/io/safetensors.ts does. Written here because Debian
packages no Python safetensors; numpy does the bytes."""
import json
import struct

import numpy as np

DTYPES = {'F32': '<f4', 'I64': '<i8'}


def read_safetensors(path):
    """Returns (tensors, metadata): an ordered dict name -> numpy array (float32, or int64 for I64), in header order."""
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    metadata = header.pop('__metadata__', {})
    tensors = {}
    for name, info in header.items():
        if info['dtype'] not in DTYPES:
            raise ValueError(f'{path}: tensor {name} is {info["dtype"]}; only F32 and I64 are read here')
        begin, end = info['data_offsets']
        data = np.frombuffer(raw[8 + n + begin:8 + n + end], dtype=DTYPES[info['dtype']])
        tensors[name] = data.reshape(info['shape']).copy()
    return tensors, metadata


def safetensors_bytes(tensors, metadata=None):
    """The file's bytes: integer arrays as I64, anything else as F32, in the given order; metadata values are
    strings."""
    header = {}
    if metadata:
        header['__metadata__'] = {k: str(v) for k, v in metadata.items()}
    blobs, offset = [], 0
    for name, array in tensors.items():
        array = np.asarray(array)
        dtype = 'I64' if np.issubdtype(array.dtype, np.integer) else 'F32'
        data = np.ascontiguousarray(array.astype(DTYPES[dtype])).tobytes()
        header[name] = {'dtype': dtype, 'shape': list(array.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * (-len(text) % 8)  # the data starts 8-byte aligned
    return struct.pack('<Q', len(text)) + text + b''.join(blobs)


def write_safetensors(path, tensors, metadata=None):
    with open(path, 'wb') as f:
        f.write(safetensors_bytes(tensors, metadata))
