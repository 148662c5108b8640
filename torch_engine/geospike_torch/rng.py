"""The seeded streams of src/util/rng.ts (sfc32 seeded by splitmix32) and src/data/hash.ts (sha256 of the parts
joined by NUL, first 4 bytes little-endian), to the bit: the torch engine draws the same shuffles, crops, flips and
mixup weights as the TypeScript trainer. test/torch/cross_boundary.test.ts checks the two sides agree."""
import hashlib
import math

M32 = 0xFFFFFFFF


def _part(p):
    # JS's String(number): integers print without a decimal point.
    if isinstance(p, float) and p.is_integer():
        p = int(p)
    return str(p)


def hash32(*parts):
    return int.from_bytes(hashlib.sha256('\u0000'.join(_part(p) for p in parts).encode()).digest()[:4], 'little')


def _imul(a, b):
    return (a * b) & M32


class Rng:
    def __init__(self, seed=0):
        z = seed & M32
        s = []
        for _ in range(4):
            z = (z + 0x9E3779B9) & M32
            t = z
            t = _imul(t ^ (t >> 16), 0x85EBCA6B)
            t = _imul(t ^ (t >> 13), 0xC2B2AE35)
            s.append((t ^ (t >> 16)) & M32)
        self.s = s
        for _ in range(12):
            self.next_u32()

    def next_u32(self):
        s = self.s
        t = (s[0] + s[1] + s[3]) & M32
        s[3] = (s[3] + 1) & M32
        s[0] = s[1] ^ (s[1] >> 9)
        s[1] = (s[2] + (s[2] << 3)) & M32
        s[2] = ((s[2] << 21) | (s[2] >> 11)) & M32
        s[2] = (s[2] + t) & M32
        return t

    def uniform(self):
        return self.next_u32() / 4294967296

    def int(self, n):
        return math.floor(self.uniform() * n)

    def normal(self):
        u = self.uniform()
        while u == 0:
            u = self.uniform()
        return math.sqrt(-2 * math.log(u)) * math.cos(2 * math.pi * self.uniform())


def sample_gamma(rng, shape):
    """Marsaglia and Tsang, as src/train/mixup.ts."""
    if shape < 1:
        return sample_gamma(rng, shape + 1) * rng.uniform() ** (1 / shape)
    d = shape - 1 / 3
    c = 1 / math.sqrt(9 * d)
    while True:
        while True:
            x = rng.normal()
            v = 1 + c * x
            if v > 0:
                break
        v = v * v * v
        u = rng.uniform()
        if u < 1 - 0.0331 * x ** 4 or math.log(u) < 0.5 * x * x + d * (1 - v + math.log(v)):
            return d * v


def sample_beta(rng, a, b):
    x = sample_gamma(rng, a)
    return x / (x + sample_gamma(rng, b))
