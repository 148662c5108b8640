"""AdamW parameter groups as the official Spikformer and Spike-driven Transformer training scripts get them from timm's
create_optimizer_v2(model, 'adamw', lr, weight_decay=wd) with its default filter_bias_and_bn=True: every parameter
with ndim <= 1, every name ending in '.bias' and every name in model.no_weight_decay() (when the model defines it; the
official models and this peer's do not) goes in a group with weight decay 0. geospike's side: src/train/param_groups.ts.
Written here so the peer needs no timm; only the rule is timm's."""


def no_decay_names(model):
    """Names of the trainable parameters that get weight decay 0, in named_parameters() order."""
    skip = set(model.no_weight_decay()) if hasattr(model, 'no_weight_decay') else set()
    return [name for name, p in model.named_parameters()
            if p.requires_grad and (p.ndim <= 1 or name.endswith('.bias') or name in skip)]


def param_groups(model, weight_decay):
    """[no-decay group, decay group] for torch.optim.AdamW(param_groups(model, wd), lr=...)."""
    no_decay = set(no_decay_names(model))
    trainable = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    return [
        {'params': [p for name, p in trainable if name in no_decay], 'weight_decay': 0.0},
        {'params': [p for name, p in trainable if name not in no_decay], 'weight_decay': weight_decay},
    ]
