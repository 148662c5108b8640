"""geospike's PyTorch engine: the models (official module names), the dataset reader, and the trainer behind
`geospike train --engine torch`. Imported by bench/peer's scripts too; needs only torch and numpy."""
