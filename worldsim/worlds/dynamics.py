"""One world step (action impulse, damping, exact event-driven motion) and whole-clip simulation. Pure JAX."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from worldsim.worlds import physics
from worldsim.worlds.config import WorldConfig
from worldsim.worlds.state import BallState

Perturb = Callable[[jax.Array, BallState], BallState]  # (t, state) -> state


def step(cfg: WorldConfig, s: BallState, action: jax.Array) -> tuple[BallState, jax.Array]:
    """Advance one frame (unbatched). Returns (state, wall contacts during the frame).

    push world: the action, clipped to [-1, 1]^2, is a force of action * cfg.max_force on the controlled ball,
    applied as the impulse force * dt at the start of the frame (accel = force / mass); then every velocity
    decays by exp(-damping * dt). Passive worlds ignore the (empty) action.
    """
    if cfg.controllable:
        force = jnp.clip(jnp.nan_to_num(action.astype(jnp.float32)), -1.0, 1.0) * cfg.max_force
        kick = force[None, :] * cfg.dt / s.mass[:, None]
        s = s._replace(vel=jnp.where((s.controlled & s.present)[:, None], s.vel + kick, s.vel))
    if cfg.damping > 0:
        s = s._replace(vel=s.vel * jnp.exp(-cfg.damping * cfg.dt))
    return physics.advance(s, cfg.dt, cfg.restitution, cfg.max_events)


def _identity(t, s):
    return s


def simulate(
    cfg: WorldConfig, s0: BallState, actions: jax.Array, pre: Perturb = _identity, post: Perturb = _identity
) -> tuple[BallState, jax.Array]:
    """Roll s0 through len(actions) frames (unbatched). actions: (T, A), actions[t] acts from frame t to t+1.

    `pre(t, s)` edits the state of frame t-1 before it is stepped to frame t and `post(t, s)` edits frame t after;
    the violation-of-expectation clips use them. Returns states with leading axis T and wall contacts (T,).
    """

    def body(s, inputs):
        t, a = inputs
        s, walls = step(cfg, pre(t, s), a)
        s = post(t, s)
        return s, (s, walls)

    t_idx = jnp.arange(1, actions.shape[0], dtype=jnp.int32)
    _, (traj, walls) = jax.lax.scan(body, s0, (t_idx, actions[:-1]))
    states = jax.tree.map(lambda a, b: jnp.concatenate([a[None], b], 0), s0, traj)
    return states, jnp.concatenate([jnp.zeros((1,), jnp.int32), walls])


def random_actions(cfg: WorldConfig, key: jax.Array) -> jax.Array:
    """(T, A) the data-collection policy: uniform pushes in [-1, 1]^2, each held for cfg.action_hold frames; a
    cfg.idle_share of the blocks push nothing."""
    if not cfg.controllable:
        return jnp.zeros((cfg.num_frames, 0), jnp.float32)
    blocks = -(-cfg.num_frames // cfg.action_hold)
    a = jax.random.uniform(key, (blocks, 2), minval=-1.0, maxval=1.0)
    if cfg.idle_share > 0:  # a separate key: the pushes that remain are the same as without idle blocks
        a = jnp.where(jax.random.uniform(jax.random.fold_in(key, 1), (blocks, 1)) < cfg.idle_share, 0.0, a)
    return jnp.repeat(a, cfg.action_hold, axis=0)[: cfg.num_frames]
