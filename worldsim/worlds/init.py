"""Sampling initial states: ball count, sizes, colours, non-overlapping positions, velocities. Pure JAX."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from worldsim.worlds.config import REFERENCE_RADIUS, WorldConfig
from worldsim.worlds.palette import COLOURS
from worldsim.worlds.state import BallState

_TRIES = 64  # candidate positions per ball; the first that clears the others is taken
_GAP = 0.01  # minimum clearance between balls and from walls at start, world units


def _place(key, radius, present):
    """Sequentially place balls: each takes its first candidate clearing the walls and the balls placed before it."""
    k = radius.shape[0]
    keys = jax.random.split(key, k)

    def place_one(placed, inputs):
        pos_so_far, ok_so_far = placed
        i, sub, r = inputs
        lo, hi = r + _GAP, 1.0 - r - _GAP
        cand = jax.random.uniform(sub, (_TRIES, 2), minval=lo, maxval=hi)  # (N,2)
        d = jnp.linalg.norm(cand[:, None, :] - pos_so_far[None, :, :], axis=-1)  # (N,K)
        clear = d > (r + radius)[None, :] + _GAP
        earlier = (jnp.arange(k) < i) & ok_so_far
        good = jnp.all(clear | ~earlier[None, :], axis=1)  # (N,)
        choice = jnp.argmax(good)
        found = good[choice] & present[i]
        pos_so_far = pos_so_far.at[i].set(jnp.where(found, cand[choice], 0.0))
        ok_so_far = ok_so_far.at[i].set(found)
        return (pos_so_far, ok_so_far), None

    init = (jnp.zeros((k, 2)), jnp.zeros((k,), bool))
    (pos, ok), _ = jax.lax.scan(place_one, init, (jnp.arange(k), keys, radius))
    return pos, ok


def initial_state(cfg: WorldConfig, key: jax.Array) -> BallState:
    """One random initial state with cfg.capacity slots (unbatched; vmap for batches)."""
    k = cfg.capacity
    k_n, k_r, k_c, k_p, k_s, k_a = jax.random.split(key, 6)
    n = jax.random.randint(k_n, (), cfg.num_balls[0], cfg.num_balls[1] + 1)
    present = jnp.arange(k) < n
    radius = jax.random.uniform(k_r, (k,), minval=cfg.radius[0], maxval=cfg.radius[1])
    colour = jax.random.permutation(k_c, len(COLOURS))[:k].astype(jnp.int32)
    if cfg.controllable:
        # The agent is always red (colour 0): swap red into slot 0.
        colour = jnp.where(colour == 0, colour[0], colour).at[0].set(0)
    pos, placed = _place(k_p, radius, present)
    present = present & placed  # a ball that found no free spot (vanishingly rare) is left out
    speed = jax.random.uniform(k_s, (k,), minval=cfg.speed[0], maxval=cfg.speed[1])
    angle = jax.random.uniform(k_a, (k,), minval=0.0, maxval=2 * jnp.pi)
    vel = speed[:, None] * jnp.stack([jnp.cos(angle), jnp.sin(angle)], -1)
    zero = ~present
    return BallState(
        pos=jnp.where(zero[:, None], 0.0, pos).astype(jnp.float32),
        vel=jnp.where(zero[:, None], 0.0, vel).astype(jnp.float32),
        radius=radius.astype(jnp.float32),
        mass=((radius / REFERENCE_RADIUS) ** 2).astype(jnp.float32),
        colour=colour,
        present=present,
        controlled=(jnp.arange(k) == 0) & cfg.controllable,
        gravity=jnp.array([0.0, cfg.gravity], jnp.float32),
    )
