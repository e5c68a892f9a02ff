"""Shared by the default model's training scripts: a learning rate that follows wall-clock time, and the finite-loss
check. They train for a time budget (a lent GPU's minutes, a CPU session), not a step count, so the schedule's
cosine runs over the seconds left rather than over steps nobody knows in advance."""

from __future__ import annotations

import json
import math


def wall_clock_lr(lr: float, done: int, warmup: int, frac: float) -> float:
    """Linear warmup over the first `warmup` steps, then a cosine from lr to 2% of it as frac (the share of the
    training time spent) goes from 0 to 1."""
    return lr * min(1.0, (done + 1) / warmup) * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))


def check_finite(loss: float, done: int) -> None:
    if not math.isfinite(loss):
        raise FloatingPointError(f"non-finite loss at step {done}: lower --lr")


def write_row(log, row: dict) -> None:
    """One metrics row to the JSONL log (flushed, so a killed run keeps it) and to stdout."""
    log.write(json.dumps(row) + "\n")
    log.flush()
    print(json.dumps(row), flush=True)
