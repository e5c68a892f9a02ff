"""Training: loops, optimizers, checkpoints, logging."""
