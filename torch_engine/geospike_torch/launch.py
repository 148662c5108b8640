"""torchrun, for `geospike train --engine torch --gpus N`: `python3 -m geospike_torch.launch ARGS` is
`torchrun ARGS`, with one repair. Under Python 3.11, torch before 2.0 (Debian 12's 1.13) reads its default
`--redirects 0 --tee 0` as None (enum iteration no longer yields the zero flag) and fails with "'NoneType' object
has no attribute 'get'" before starting any rank; the value is mapped to the flag it names instead."""
import sys

from torch.distributed.elastic.multiprocessing import api

_from_str = api.Std.from_str


def _fixed(cls, vm):
    value = _from_str(vm)
    if value is None:
        return cls(int(vm))
    if isinstance(value, dict):
        return {int(i): cls(int(v)) for i, v in (m.split(':') for m in vm.split(','))}
    return value


api.Std.from_str = classmethod(_fixed)

if __name__ == '__main__':
    from torch.distributed.run import main

    sys.exit(main())
