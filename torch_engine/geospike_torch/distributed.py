"""What a rank needs to know of torchrun's world: rank, world size, the device, the process group; and SyncBN on
the CPU (torch's nn.SyncBatchNorm runs on CUDA only), so gloo runs in the tests share BatchNorm statistics the same
way."""
import os

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F


class World:
    def __init__(self, device_flag):
        self.rank = int(os.environ.get('RANK', '0'))
        self.size = int(os.environ.get('WORLD_SIZE', '1'))
        self.local_rank = int(os.environ.get('LOCAL_RANK', '0'))
        cuda = torch.cuda.is_available()
        if device_flag == 'cuda' and not cuda:
            raise SystemExit('geospike: --device cuda was asked for but this torch sees no CUDA device '
                             f'(torch {torch.__version__}, CUDA build {torch.version.cuda or "none"}); '
                             'install a CUDA build of torch (docs/torch-engine.md) or use --device cpu')
        self.device = torch.device(f'cuda:{self.local_rank}' if device_flag != 'cpu' and cuda else 'cpu')
        if self.device.type == 'cuda':
            torch.cuda.set_device(self.device)
        if self.size > 1:
            dist.init_process_group('nccl' if self.device.type == 'cuda' else 'gloo')

    @property
    def main(self):
        return self.rank == 0

    def sum(self, values):
        """Sums a list of floats over the ranks."""
        if self.size == 1:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(t)
        return t.tolist()

    def barrier(self):
        if self.size > 1:
            dist.barrier()

    def close(self):
        if self.size > 1 and dist.is_initialized():
            dist.destroy_process_group()


class CpuSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics are over every rank's part of the batch (as nn.SyncBatchNorm), through
    the differentiable all_reduce, so the gradient is the one-process gradient too. Eval mode is plain BatchNorm."""

    def _check_input_dim(self, x):
        if x.dim() < 2:
            raise ValueError(f'expected at least 2-D input, got {x.dim()}-D')

    def forward(self, x):
        if not self.training:
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        # Two passes (the mean, then the squared deviations from it), each summed over the ranks: E[x^2] - mean^2 in
        # float32 loses digits to cancellation, and Adam turns small gradient differences into whole steps.
        dims = [0] + list(range(2, x.dim()))
        c = x.shape[1]
        shape = [1, c] + [1] * (x.dim() - 2)
        count = torch.tensor([float(x.numel() // c)], dtype=x.dtype)
        sums = all_reduce(torch.cat([x.sum(dims), count]))
        n = sums[-1]
        mean = sums[:c] / n
        centred = x - mean.view(shape)
        var = all_reduce((centred * centred).sum(dims)) / n
        with torch.no_grad():
            self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean.detach())
            self.running_var.mul_(1 - self.momentum).add_(self.momentum * var.detach() * n / (n - 1))
            self.num_batches_tracked.add_(1)
        y = centred / torch.sqrt(var.view(shape) + self.eps)
        return y * self.weight.view(shape) + self.bias.view(shape)


def convert_sync_bn(module, device):
    """Every BatchNorm becomes a synchronised one under the same name (the state-dict keys do not change)."""
    if device.type == 'cuda':
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            bn = CpuSyncBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                  child.track_running_stats)
            bn.load_state_dict(child.state_dict())
            setattr(module, name, bn)
        else:
            convert_sync_bn(child, device)
    return module
