"""Cross-entropy method (CEM) model-predictive control: sample action sequences around a Gaussian plan, score them
with any model, refit the Gaussian to the best, repeat; act with the plan's first action. Pure and jittable: the
model enters only through `score`, so the same planner runs on the learned simulator and on the true physics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp

Score = Callable[[jax.Array], jax.Array]  # actions (N, H, A) in [-1, 1] -> (N,) returns (higher is better)


@dataclass(frozen=True)
class CEMConfig:
    horizon: int = 10  # H: planned steps
    candidates: int = 64  # N: action sequences scored per iteration
    elites: int = 8  # best sequences the Gaussian is refitted to
    iterations: int = 3  # refits per plan
    init_std: float = 0.8  # starting spread of every action dimension (actions live in [-1, 1])
    min_std: float = 0.05  # floor on the spread, so the search never collapses entirely

    def __post_init__(self):
        for name in ("horizon", "candidates", "elites", "iterations"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 1")
        if self.elites > self.candidates:
            raise ValueError(f"elites={self.elites} > candidates={self.candidates}: keep fewer elites than candidates")
        if not 0.0 < self.min_std <= self.init_std:
            raise ValueError(f"need 0 < min_std <= init_std, got {self.min_std}, {self.init_std}")


def plan(score: Score, key, cfg: CEMConfig, action_dim: int, mean=None) -> tuple[jax.Array, jax.Array]:
    """-> (first action (A,), the final mean plan (H, A) to warm-start the next call via `shift`).

    The mean plan is always among the candidates (as candidate 0), so a refit never loses a plan it had."""
    mean = jnp.zeros((cfg.horizon, action_dim), jnp.float32) if mean is None else jnp.asarray(mean, jnp.float32)
    std = jnp.full_like(mean, cfg.init_std)

    def refit(carry, k):
        mu, sigma = carry
        eps = jax.random.normal(k, (cfg.candidates,) + mu.shape).at[0].set(0.0)
        acts = jnp.clip(mu + sigma * eps, -1.0, 1.0)
        scores = score(acts)
        scores = jnp.where(jnp.isfinite(scores), scores, -jnp.inf)  # a diverged rollout is never an elite
        elite = acts[jax.lax.top_k(scores, cfg.elites)[1]]
        return (elite.mean(0), jnp.maximum(elite.std(0), cfg.min_std)), scores.max()

    (mean, _), _ = jax.lax.scan(refit, (mean, std), jax.random.split(key, cfg.iterations))
    return mean[0], mean


def shift(mean: jax.Array) -> jax.Array:
    """Warm start: drop the executed first action, repeat the last one."""
    return jnp.concatenate([mean[1:], mean[-1:]], axis=0)
