"""Timing and FLOP counting for the benchmarks: best-of wall time of a compiled call, XLA's own FLOP count, and
the reference rate of a large f32 matmul measured in the same process (so ratios cancel the machine's noise)."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp


def best_time(fn, *args, reps: int = 5) -> float:
    """Best wall seconds of fn(*args) (outputs blocked on) over reps calls, after one warm-up call."""
    jax.block_until_ready(fn(*args))
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t0)
    return best


def flops(jitted, *args) -> float:
    """FLOPs of one call of a jax.jit function, as XLA's cost analysis counts them."""
    cost = jitted.lower(*args).compile().cost_analysis()
    if isinstance(cost, (list, tuple)):  # older jax returns one dict per computation
        cost = cost[0]
    return float(cost.get("flops", float("nan")))


def matmul_rate(n: int = 2048, reps: int = 5) -> float:
    """FLOP/s of an n x n x n float32 matmul: the machine's practical peak for dense f32 work."""
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
    mm = jax.jit(jnp.matmul)
    return 2.0 * n**3 / best_time(mm, a, b, reps=reps)
