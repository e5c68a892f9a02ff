"""Shared by the default model's training scripts: a learning rate that follows wall-clock time, and the finite-loss
check. They train for a time budget (a lent GPU's minutes, a CPU session), not a step count, so the schedule's
cosine runs over the seconds left rather than over steps nobody knows in advance."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable


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


def train_until(deadline: float, step: Callable[[int, float], dict], snapshot: Callable[..., dict], log, *,
                lr: float, warmup: int, snapshot_seconds: float, t0: float, every: int = 50) -> int:
    """The CPU scripts' training loop. Until the wall-clock deadline: step(done, lr) -> metrics (floats; "loss"
    among them, checked finite), at wall_clock_lr over the time left; a row of them every `every` steps; a
    snapshot(done) -> row every snapshot_seconds; at the end a snapshot(done, final=True) row. t0: the process
    start the rows' seconds count from. Returns the steps done."""
    t_train = time.time()
    budget = max(deadline - t_train, 1.0)
    done, last_snap = 0, time.time()
    while time.time() < deadline:
        now = wall_clock_lr(lr, done, warmup, (time.time() - t_train) / budget)
        metrics = step(done, now)
        done += 1
        if done % every == 0:
            row = {"step": done, **{k: float(v) for k, v in metrics.items()}, "lr": now,
                   "seconds": round(time.time() - t0, 1)}
            check_finite(row["loss"], done)
            write_row(log, row)
        if time.time() - last_snap > snapshot_seconds:
            write_row(log, snapshot(done))
            last_snap = time.time()
    write_row(log, snapshot(done, final=True) | {"final": True})
    return done


def add_training_args(p, *, per_world: int, lr: float, warmup: int, ema: float, snapshot_seconds: float) -> None:
    """The options the CPU scripts share (argparse parser p), with each script's defaults."""
    p.add_argument("--out", required=True)
    p.add_argument("--total-seconds", type=float, default=3600.0, help="wall-clock budget from process start")
    p.add_argument("--per-world", type=int, default=per_world, help="first frames per world")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--warmup", type=int, default=warmup)
    p.add_argument("--ema", type=float, default=ema)
    p.add_argument("--snapshot-seconds", type=float, default=snapshot_seconds)
    p.add_argument("--seed", type=int, default=0)
