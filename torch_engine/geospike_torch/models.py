"""The PyTorch reference models geospike is measured and checked against.

- Spikformer, CIFAR variant of ZK-Zhou/spikformer (cifar10/model.py): SPS patch embedding, spiking self-attention,
  spiking MLP. The official Block holds LayerNorms norm1/norm2 that its forward never uses; they are kept so an
  official checkpoint loads by name.
- Spike-driven Transformer (V1), CIFAR variant of BICLab/Spike-Driven-Transformer (model/spikeformer.py,
  module/sps.py, module/ms_conv.py, pooling_stat "0011", 1x1 convolutions, membrane shortcuts). The unused modules
  (talking_heads Conv1d, attn_lif, rpe_lif) are kept for the same reason.
- CIFAR ResNet18: 3x3 stem without max-pool, BasicBlocks 2-2-2-2, 1x1 convolution shortcut on a shape change.

Module and attribute names are the official ones, so state_dict() keys equal the official state-dict keys
(test/golden/reference.json and sdt-reference.json list them). Every spiking tensor is time-first: [T, B, ...].
The neuron is SpikingJelly's MultiStepLIFNode(tau=2, v_reset=0, decay_input=True, detach_reset=True) with the
Sigmoid surrogate (alpha 4), written out here so it needs no SpikingJelly or CuPy.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class SigmoidSpike(torch.autograd.Function):
    """Heaviside forward (a spike when x >= 0, so Heaviside(0) = 1); sigmoid surrogate gradient backward:
    d/dx = alpha * sigmoid(alpha x) * (1 - sigmoid(alpha x))."""

    @staticmethod
    def forward(ctx, x, alpha):
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        sg = torch.sigmoid(ctx.alpha * x)
        return grad_out * ctx.alpha * sg * (1 - sg), None


class MultiStepLIF(nn.Module):
    """Leaky integrate-and-fire over the leading time axis.

    Charge H[t] = V[t-1] + (X[t] - V[t-1]) / tau (decay_input, v_reset 0); fire S[t] = Heaviside(H[t] - v_threshold);
    hard reset V[t] = H[t] * (1 - S[t]) with S detached there (detach_reset), so the reset passes no gradient.
    With `record` set, each forward keeps its mean firing rate (`rate`) and the smallest nonzero distance between a
    charge and the threshold (`margin`): how far the spike decisions are from flipping under rounding.
    """

    def __init__(self, tau=2.0, v_threshold=1.0, alpha=4.0):
        super().__init__()
        self.tau, self.v_threshold, self.alpha = tau, v_threshold, alpha
        self.record = False
        self.rate = None
        self.margin = None

    def forward(self, x):
        v = torch.zeros_like(x[0])
        spikes = []
        margin = float('inf')
        for t in range(x.shape[0]):
            h = v + (x[t] - v) / self.tau
            s = SigmoidSpike.apply(h - self.v_threshold, self.alpha)
            v = h * (1 - s.detach())
            spikes.append(s)
            if self.record:
                gap = (h.detach() - self.v_threshold).abs()
                gap = gap[gap > 0]
                if gap.numel():
                    margin = min(margin, gap.min().item())
        out = torch.stack(spikes)
        if self.record:
            self.rate = out.detach().mean().item()
            self.margin = margin
        return out

    def extra_repr(self):
        return f'tau={self.tau}, v_threshold={self.v_threshold}, alpha={self.alpha}'


def time_batch_norm(bn, x):
    """BatchNorm over T and B together: x [T, B, C, ...] -> same shape (the official code flattens T into B)."""
    T, B = x.shape[:2]
    return bn(x.flatten(0, 1)).reshape(T, B, *x.shape[2:])


def apply_2d(layer, x):
    """A 2-D layer applied to every time step: x [T, B, C, H, W] -> [T, B, C', H', W']."""
    T, B = x.shape[:2]
    y = layer(x.flatten(0, 1))
    return y.reshape(T, B, *y.shape[1:])


def token_linear_bn(linear, bn, x):
    """Linear over the channels of tokens x [T, B, N, C], then BatchNorm1d over channels (tokens as length)."""
    T, B, N, _ = x.shape
    y = linear(x.flatten(0, 1))  # [TB, N, C']
    y = bn(y.transpose(1, 2)).transpose(1, 2)
    return y.reshape(T, B, N, -1).contiguous()


# ---------------------------------------------------------------- Spikformer (ZK-Zhou/spikformer, cifar10/model.py)

class MLP(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1_linear = nn.Linear(dim, hidden)
        self.fc1_bn = nn.BatchNorm1d(hidden)
        self.fc1_lif = MultiStepLIF()
        self.fc2_linear = nn.Linear(hidden, dim)
        self.fc2_bn = nn.BatchNorm1d(dim)
        self.fc2_lif = MultiStepLIF()

    def forward(self, x):  # [T, B, N, C]
        x = self.fc1_lif(token_linear_bn(self.fc1_linear, self.fc1_bn, x))
        return self.fc2_lif(token_linear_bn(self.fc2_linear, self.fc2_bn, x))


class SSA(nn.Module):
    """Spiking self-attention: Q, K, V are spikes, attention = Q K^T V * 0.125 without softmax, then a LIF with
    threshold 0.5 and a projection."""

    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.scale = 0.125
        self.q_linear = nn.Linear(dim, dim)
        self.q_bn = nn.BatchNorm1d(dim)
        self.q_lif = MultiStepLIF()
        self.k_linear = nn.Linear(dim, dim)
        self.k_bn = nn.BatchNorm1d(dim)
        self.k_lif = MultiStepLIF()
        self.v_linear = nn.Linear(dim, dim)
        self.v_bn = nn.BatchNorm1d(dim)
        self.v_lif = MultiStepLIF()
        self.attn_lif = MultiStepLIF(v_threshold=0.5)
        self.proj_linear = nn.Linear(dim, dim)
        self.proj_bn = nn.BatchNorm1d(dim)
        self.proj_lif = MultiStepLIF()

    def heads(self, x):  # [T, B, N, C] -> [T, B, heads, N, C / heads]
        T, B, N, C = x.shape
        return x.reshape(T, B, N, self.num_heads, C // self.num_heads).permute(0, 1, 3, 2, 4)

    def forward(self, x):
        T, B, N, C = x.shape
        q = self.heads(self.q_lif(token_linear_bn(self.q_linear, self.q_bn, x)))
        k = self.heads(self.k_lif(token_linear_bn(self.k_linear, self.k_bn, x)))
        v = self.heads(self.v_lif(token_linear_bn(self.v_linear, self.v_bn, x)))
        attn = (q @ k.transpose(-2, -1)) * self.scale
        y = (attn @ v).transpose(2, 3).reshape(T, B, N, C)
        y = self.attn_lif(y)
        return self.proj_lif(token_linear_bn(self.proj_linear, self.proj_bn, y))


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio=4):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)  # unused by the official forward; kept for the state-dict keys
        self.attn = SSA(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim)  # unused, as norm1
        self.mlp = MLP(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(x)
        return x + self.mlp(x)


def add_patch_stages(module, embed_dims, in_channels):
    """The layers both patch embeddings (SPS, MS_SPS) declare, with the official names: four 3x3 conv-BN-LIF stages
    proj_conv/proj_bn/proj_lif with suffixes '', 1, 2, 3 (channels D/8, D/4, D/2, D), then rpe_conv, rpe_bn, rpe_lif.
    Max-pools hold no state, so where each module declares its own does not change the state-dict keys."""
    channels = [in_channels, embed_dims // 8, embed_dims // 4, embed_dims // 2, embed_dims]
    for i, suffix in enumerate(['', '1', '2', '3']):
        setattr(module, f'proj_conv{suffix}', nn.Conv2d(channels[i], channels[i + 1], 3, 1, 1, bias=False))
        setattr(module, f'proj_bn{suffix}', nn.BatchNorm2d(channels[i + 1]))
        setattr(module, f'proj_lif{suffix}', MultiStepLIF())
    module.rpe_conv = nn.Conv2d(embed_dims, embed_dims, 3, 1, 1, bias=False)
    module.rpe_bn = nn.BatchNorm2d(embed_dims)
    module.rpe_lif = MultiStepLIF()


def first_three_stages(m, x):
    """conv-BN-LIF three times at full resolution (both patch embeddings start so): [T, B, C, H, W] -> spikes."""
    x = m.proj_lif(time_batch_norm(m.proj_bn, apply_2d(m.proj_conv, x)))
    x = m.proj_lif1(time_batch_norm(m.proj_bn1, apply_2d(m.proj_conv1, x)))
    return m.proj_lif2(time_batch_norm(m.proj_bn2, apply_2d(m.proj_conv2, x)))


class SPS(nn.Module):
    """Spiking patch splitting: four conv-BN-LIF stages (channels D/8, D/4, D/2, D), max-pools after the third and
    fourth LIF (32x32 -> 8x8), and a relative position embedding (conv-BN-LIF) added to its own input."""

    def __init__(self, embed_dims, in_channels=3):
        super().__init__()
        add_patch_stages(self, embed_dims, in_channels)
        self.maxpool2 = nn.MaxPool2d(3, 2, 1)
        self.maxpool3 = nn.MaxPool2d(3, 2, 1)

    def forward(self, x):  # [T, B, C, H, W] -> tokens [T, B, N, D]
        x = apply_2d(self.maxpool2, first_three_stages(self, x))
        x = self.proj_lif3(time_batch_norm(self.proj_bn3, apply_2d(self.proj_conv3, x)))
        feat = apply_2d(self.maxpool3, x)
        x = self.rpe_lif(time_batch_norm(self.rpe_bn, apply_2d(self.rpe_conv, feat)))
        return (x + feat).flatten(-2).transpose(-1, -2)


class Spikformer(nn.Module):
    def __init__(self, embed_dims=384, depths=4, num_heads=12, T=4, num_classes=10, mlp_ratio=4, in_channels=3):
        super().__init__()
        self.T = T
        self.patch_embed = SPS(embed_dims, in_channels)
        self.block = nn.ModuleList([Block(embed_dims, num_heads, mlp_ratio) for _ in range(depths)])
        self.head = nn.Linear(embed_dims, num_classes)
        # Official init: truncated normal (std 0.02) linear weights with zero biases; convs and BN keep PyTorch's.
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, img):  # [B, C, H, W], the same image at every time step
        x = self.patch_embed(img.unsqueeze(0).repeat(self.T, 1, 1, 1, 1))
        for blk in self.block:
            x = blk(x)
        return self.head(x.mean(2).mean(0))  # tokens, then time


# -------------------------------------- Spike-driven Transformer (BICLab/Spike-Driven-Transformer, CIFAR variant)

class MS_SPS(nn.Module):
    """SDT patch embedding with pooling_stat "0011": like SPS, but the fourth stage has no LIF before its max-pool;
    its analog output `feat` is kept, spiked by proj_lif3, sent through rpe_conv/rpe_bn and added back, so the
    stream leaving it is analog (membrane shortcut), [T, B, D, 8, 8]."""

    def __init__(self, embed_dims, in_channels=3):
        super().__init__()
        add_patch_stages(self, embed_dims, in_channels)
        self.maxpool = nn.MaxPool2d(3, 2, 1)  # pooling_stat[0] == "0": unused
        self.maxpool1 = nn.MaxPool2d(3, 2, 1)  # pooling_stat[1] == "0": unused
        self.maxpool2 = nn.MaxPool2d(3, 2, 1)
        self.maxpool3 = nn.MaxPool2d(3, 2, 1)
        # rpe_lif (from add_patch_stages) is unused by the official forward

    def forward(self, x):  # [T, B, C, H, W]
        x = apply_2d(self.maxpool2, first_three_stages(self, x))
        feat = apply_2d(self.maxpool3, time_batch_norm(self.proj_bn3, apply_2d(self.proj_conv3, x)))
        x = time_batch_norm(self.rpe_bn, apply_2d(self.rpe_conv, self.proj_lif3(feat)))
        return x + feat


class MS_SSA_Conv(nn.Module):
    """Spike-driven self-attention: per head, the token sum of K*V (elementwise) goes through a LIF with threshold
    0.5 and gates Q; then a 1x1 projection and BN, plus the block input (a membrane shortcut)."""

    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.scale = 0.125  # unused by the official forward
        self.q_conv = nn.Conv2d(dim, dim, 1, 1, bias=False)
        self.q_bn = nn.BatchNorm2d(dim)
        self.q_lif = MultiStepLIF()
        self.k_conv = nn.Conv2d(dim, dim, 1, 1, bias=False)
        self.k_bn = nn.BatchNorm2d(dim)
        self.k_lif = MultiStepLIF()
        self.v_conv = nn.Conv2d(dim, dim, 1, 1, bias=False)
        self.v_bn = nn.BatchNorm2d(dim)
        self.v_lif = MultiStepLIF()
        self.attn_lif = MultiStepLIF(v_threshold=0.5)  # unused
        self.talking_heads = nn.Conv1d(num_heads, num_heads, 1, 1, bias=False)  # unused
        self.talking_heads_lif = MultiStepLIF(v_threshold=0.5)
        self.proj_conv = nn.Conv2d(dim, dim, 1, 1)
        self.proj_bn = nn.BatchNorm2d(dim)
        self.shortcut_lif = MultiStepLIF()

    def heads(self, x):  # [T, B, C, H, W] -> [T, B, heads, N, C / heads]
        T, B, C = x.shape[:3]
        split = x.flatten(3).transpose(-1, -2).reshape(T, B, -1, self.num_heads, C // self.num_heads)
        return split.permute(0, 1, 3, 2, 4)

    def forward(self, x):
        T, B, C, H, W = x.shape
        identity = x
        x = self.shortcut_lif(x)
        q = self.heads(self.q_lif(time_batch_norm(self.q_bn, apply_2d(self.q_conv, x))))
        k = self.heads(self.k_lif(time_batch_norm(self.k_bn, apply_2d(self.k_conv, x))))
        v = self.heads(self.v_lif(time_batch_norm(self.v_bn, apply_2d(self.v_conv, x))))
        kv = self.talking_heads_lif((k * v).sum(dim=-2, keepdim=True))
        y = (q * kv).transpose(3, 4).reshape(T, B, C, H, W)  # channel = head * (C / heads) + c
        return time_batch_norm(self.proj_bn, apply_2d(self.proj_conv, y)) + identity


class MS_MLP_Conv(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.res = dim == hidden  # the official inner shortcut, only when the hidden width equals the input's
        self.fc1_conv = nn.Conv2d(dim, hidden, 1, 1)
        self.fc1_bn = nn.BatchNorm2d(hidden)
        self.fc1_lif = MultiStepLIF()
        self.fc2_conv = nn.Conv2d(hidden, dim, 1, 1)
        self.fc2_bn = nn.BatchNorm2d(dim)
        self.fc2_lif = MultiStepLIF()

    def forward(self, x):
        identity = x
        x = time_batch_norm(self.fc1_bn, apply_2d(self.fc1_conv, self.fc1_lif(x)))
        if self.res:
            x = x + identity
            identity = x
        return time_batch_norm(self.fc2_bn, apply_2d(self.fc2_conv, self.fc2_lif(x))) + identity


class MS_Block_Conv(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio=4):
        super().__init__()
        self.attn = MS_SSA_Conv(dim, num_heads)
        self.mlp = MS_MLP_Conv(dim, int(dim * mlp_ratio))

    def forward(self, x):
        return self.mlp(self.attn(x))


class SpikeDrivenTransformer(nn.Module):
    def __init__(self, embed_dims=512, depths=2, num_heads=8, T=4, num_classes=10, mlp_ratio=4, in_channels=3):
        super().__init__()
        self.T = T
        self.patch_embed = MS_SPS(embed_dims, in_channels)
        self.block = nn.ModuleList([MS_Block_Conv(embed_dims, num_heads, mlp_ratio) for _ in range(depths)])
        self.head_lif = MultiStepLIF()
        self.head = nn.Linear(embed_dims, num_classes)
        # Official init: truncated normal (std 0.02) Conv2d weights, zero conv biases; BN weight 1, bias 0 (PyTorch's
        # default anyway); the linear head and the Conv1d keep PyTorch's default initialisation.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, img):
        x = self.patch_embed(img.unsqueeze(0).repeat(self.T, 1, 1, 1, 1))
        for blk in self.block:
            x = blk(x)
        x = self.head_lif(x.flatten(3).mean(3))  # mean over tokens, [T, B, D], spiked
        return self.head(x).mean(0)


# ------------------------------------------------------------------------------------------------ CIFAR ResNet18

class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResNet18(nn.Module):
    """Widths w, 2w, 4w, 8w (w = 64 is the standard ResNet18)."""

    def __init__(self, num_classes=10, width=64, in_channels=3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        planes = width
        for i, (out, stride) in enumerate([(width, 1), (2 * width, 2), (4 * width, 2), (8 * width, 2)], start=1):
            setattr(self, f'layer{i}', nn.Sequential(BasicBlock(planes, out, stride), BasicBlock(out, out, 1)))
            planes = out
        self.linear = nn.Linear(8 * width, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.linear(F.adaptive_avg_pool2d(x, 1).flatten(1))


# ------------------------------------------------------------------------------------------------------- helpers

def build(model, dim=384, depth=4, heads=0, T=4, classes=5, width=64):
    """A model by name: 'spikformer' (heads default dim / 32), 'sdt' (heads default 8) or 'resnet18'."""
    if model == 'spikformer':
        return Spikformer(dim, depth, heads or max(1, dim // 32), T, classes)
    if model == 'sdt':
        return SpikeDrivenTransformer(dim, depth, heads or 8, T, classes)
    if model == 'resnet18':
        return ResNet18(classes, width)
    raise ValueError(f"unknown model '{model}': use spikformer, sdt or resnet18")


def lif_layers(model):
    return [(name, m) for name, m in model.named_modules() if isinstance(m, MultiStepLIF)]


def set_recording(model, on=True):
    for _, m in lif_layers(model):
        m.record = on
        m.rate = m.margin = None


def lif_rates(model):
    """Mean firing rate of every LIF layer that ran in the last recorded forward, in module order."""
    return {name: m.rate for name, m in lif_layers(model) if m.rate is not None}


def lif_margin(model):
    """Smallest nonzero |charge - threshold| over every LIF layer of the last recorded forward."""
    return min((m.margin for _, m in lif_layers(model) if m.margin is not None), default=float('inf'))
