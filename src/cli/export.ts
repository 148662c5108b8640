// `geospike export --checkpoint CKPT --out FILE.safetensors [--label-order sorted|dataset]`: the weights for PyTorch.
import { defineCommand } from 'citty';
import { checkpointArg } from './args.js';
import { LABEL_ORDERS, type LabelOrder } from '../models/label_order.js';
import { exportStateDict } from '../train/export.js';

export default defineCommand({
  meta: {
    name: 'export',
    description: "Write a checkpoint's weights as a PyTorch state dict (official names), head in ImageFolder's order",
  },
  args: {
    checkpoint: checkpointArg(),
    out: { type: 'string', required: true, description: 'The .safetensors file to write (must not exist)' },
    'label-order': {
      type: 'string',
      default: 'sorted',
      description:
        "Order of the head's outputs: sorted (class names sorted, as torchvision's ImageFolder numbers them) or " +
        "dataset (the dataset's classes.json order, as geospike does); the file's metadata records it",
    },
  },
  async run({ args }) {
    const order = args['label-order'];
    if (!LABEL_ORDERS.includes(order as LabelOrder)) {
      throw new Error(`--label-order must be ${LABEL_ORDERS.join(' or ')}, got '${order}'`);
    }
    const classes = await exportStateDict(args.checkpoint, args.out, order as LabelOrder);
    console.log(`wrote ${args.out}: head output i is class i of [${classes.join(', ')}] (${order} order)`);
  },
});
