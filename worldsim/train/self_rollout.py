"""Self-rollouts in training: the model's own samples as context, the true frames as targets.

A model trained only on true context has never seen the slightly-off frames its own rollouts feed it, and drifts
(exposure bias; DIAMOND, Alonso et al. 2024, trains its long-horizon model on a few steps of its own rollouts).
Sampling a rollout frame by frame inside every training step would cost T sequential flow samples, so this does
it in parallel passes: each pass runs the whole clip teacher-forced on the current context and samples every next
frame at once; from a random frame s of a clip on, the context is replaced by those samples. After k passes,
frame s + j (j < k) of the context was sampled from a context whose frames s .. s + j - 1 were themselves sampled:
the errors of a (j + 1)-step rollout, at the cost of k teacher-forced passes. No gradient flows through them.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


class SelfRollout(NamedTuple):
    """Static settings (hashable: they shape the traced program)."""

    passes: int  # parallel sampling passes (the rollout depth reached)
    share: float  # share of clips whose context is replaced
    steps: int  # Euler steps per sample
    temperature: float  # sampling temperature


def replaced_frames(key, batch: int, frames: int, share: float) -> jax.Array:
    """(B, T) bool: for a `share` of clips, every frame from a random s in [2, T) on (frames 0 and 1 stay true:
    the first is drawn from the prompt alone, the second from one true frame, which a rollout always has)."""
    k_pick, k_start = jax.random.split(key)
    pick = jax.random.uniform(k_pick, (batch,)) < share
    start = jax.random.randint(k_start, (batch,), 2, max(frames, 3))
    return pick[:, None] & (jnp.arange(frames)[None, :] >= start[:, None])


def self_context(model, z, actions, text, key, cfg: SelfRollout) -> jax.Array:
    """Context latents (B, T, g, g, D) in which the replaced frames (replaced_frames) are the model's own samples,
    `cfg.passes` deep; gradient-free. text: (ids, mask) as the training forward takes it."""
    b, t = z.shape[:2]
    if t < 3 or cfg.passes < 1:
        return z
    replace = replaced_frames(jax.random.fold_in(key, 0), b, t, cfg.share)[..., None, None, None]
    ctx = z
    for i in range(cfg.passes):
        h = model(ctx, actions, text=text)  # h[:, p] predicts frame p
        sampled = model.sample_frame(h[:, 1:t], jax.random.fold_in(key, 1 + i), cfg.steps, cfg.temperature)
        ctx = jnp.where(replace, jnp.concatenate([z[:, :1], sampled], axis=1), z)
    return jax.lax.stop_gradient(ctx)
