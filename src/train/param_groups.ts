// Which parameters AdamW decays. Both official training scripts (Spikformer, Spike-driven Transformer) build their
// optimizer with timm's create_optimizer_v2(model, 'adamw', lr, weight_decay=wd), whose default filter_bias_and_bn
// puts every parameter with ndim <= 1, every name ending in '.bias' and every name in model.no_weight_decay() in a
// group with weight decay 0. Neither official model defines no_weight_decay(), and neither does the ResNet18 baseline,
// so that list is empty here. ndim is the tensor's rank in PyTorch's layout (the official state-dict shapes).
import type { ParamStore } from '../models/params.js';

/**
 * 'timm-filter-bias-and-bn': the rule above (every run started since it was fixed). 'all': every parameter decayed, as
 * geospike did before; a run whose config.json records no rule started that way and keeps it on resume.
 */
export type WeightDecayRule = 'timm-filter-bias-and-bn' | 'all';

export const WEIGHT_DECAY_RULE: WeightDecayRule = 'timm-filter-bias-and-bn';
export const LEGACY_WEIGHT_DECAY_RULE: WeightDecayRule = 'all';
export const WEIGHT_DECAY_RULES: readonly WeightDecayRule[] = [WEIGHT_DECAY_RULE, LEGACY_WEIGHT_DECAY_RULE];

/** The official models' no_weight_decay() names: none of the three defines the method. */
const NO_WEIGHT_DECAY: ReadonlySet<string> = new Set();

/** Whether timm's grouping decays the parameter `name` of PyTorch shape `torchShape`. */
export function timmDecays(name: string, torchShape: readonly number[]): boolean {
  return !(torchShape.length <= 1 || name.endsWith('.bias') || NO_WEIGHT_DECAY.has(name));
}

/** The trainable parameters of `store` that get weight decay 0 under `rule`, in the store's order. */
export function noDecayNames(store: ParamStore, rule: WeightDecayRule): string[] {
  if (rule === 'all') return [];
  return [...store.params.keys()].filter((name) => !timmDecays(name, store.info.get(name)!.torchShape));
}
