"""Physics-aware readout: per colour slot, is the ball there, where is it and how fast does it move (world units).

Targets are indexed by colour, not by the world's ball slot: colour is what the pixels (and so the latents) show,
and the worlds give every ball a distinct colour, so the colour slot is a well-defined name for a ball.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from worldsim.data.states import states_by_colour  # noqa: F401  (re-exported beside the state head)
from worldsim.dynamics.config import DynamicsConfig
from worldsim.dynamics.layers import Mlp


class StatePred(NamedTuple):
    present_logit: jax.Array  # (..., C)
    pos: jax.Array  # (..., C, 2) world units
    vel: jax.Array  # (..., C, 2) world units / s


class StateHead(nnx.Module):
    """h (..., N, d) -> StatePred. One learned query per colour slot attends over the frame's tokens: a ball lives
    in one or two tokens, and attention pooling lets each slot find its own instead of averaging it away."""

    def __init__(self, cfg: DynamicsConfig, *, rngs: nnx.Rngs):
        d = cfg.d_model
        self.heads = cfg.num_heads
        self.queries = nnx.Param(nnx.initializers.normal(1.0)(rngs.params(), (cfg.num_colours, d)))
        self.norm = nnx.RMSNorm(d, rngs=rngs)
        self.k = nnx.Linear(d, d, use_bias=False, rngs=rngs)
        self.v = nnx.Linear(d, d, use_bias=False, rngs=rngs)
        self.mlp = Mlp(d, 2 * d, rngs=rngs)
        self.out = nnx.Linear(d, 5, rngs=rngs)

    def pool(self, h, queries) -> jax.Array:
        """Attention pooling of h (..., N, d) by per-colour queries (C, d) -> (..., C, d)."""
        x = self.norm(h)
        split = lambda a: a.reshape(a.shape[:-1] + (self.heads, -1))  # noqa: E731
        q, k, v = split(queries), split(self.k(x)), split(self.v(x))  # q (C, H, hd), k/v (..., N, H, hd)
        w = jax.nn.softmax(jnp.einsum("chd,...nhd->...hcn", q, k) / jnp.sqrt(jnp.float32(q.shape[-1])), axis=-1)
        return jnp.einsum("...hcn,...nhd->...chd", w, v).reshape(h.shape[:-2] + queries.shape)

    def __call__(self, h) -> StatePred:
        pooled = self.pool(h, self.queries[...])
        y = self.out(pooled + self.mlp(pooled))
        return StatePred(present_logit=y[..., 0], pos=y[..., 1:3], vel=y[..., 3:5])


def state_loss(pred: StatePred, target_pos, target_vel, target_present) -> tuple[jax.Array, dict]:
    """BCE on presence + MSE on position and velocity of present colour slots only. Returns (loss, parts)."""
    present = target_present.astype(jnp.float32)
    bce = jnp.mean(optax.sigmoid_binary_cross_entropy(pred.present_logit, present))
    count = jnp.maximum(jnp.sum(present) * 2.0, 1.0)  # present slots x 2 coordinates

    def masked_mse(a, b):
        return jnp.sum(present[..., None] * (a - b) ** 2) / count

    pos = masked_mse(pred.pos, target_pos)
    vel = masked_mse(pred.vel, target_vel)
    return bce + pos + vel, {"state_bce": bce, "state_pos_mse": pos, "state_vel_mse": vel}
