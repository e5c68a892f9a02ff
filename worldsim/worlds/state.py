"""The ground-truth physical state of a ball world, and the sampled episode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp


class BallState(NamedTuple):
    """Physical state of K ball slots, with any leading batch/time axes `...` (a pytree of arrays).

    Positions and velocities are in world units (see config.py): x right, y down, box [0, 1]^2.
    """

    pos: jax.Array  # (..., K, 2) float32 centre
    vel: jax.Array  # (..., K, 2) float32 world units / s
    radius: jax.Array  # (..., K) float32 world units
    mass: jax.Array  # (..., K) float32, proportional to radius**2
    colour: jax.Array  # (..., K) int32 index into palette.COLOURS
    present: jax.Array  # (..., K) bool; absent slots are ignored by physics and rendering
    controlled: jax.Array  # (..., K) bool; the ball an action pushes (push world: slot 0)
    gravity: jax.Array  # (..., 2) float32 acceleration acting on every ball, world units / s^2

    @property
    def num_slots(self) -> int:
        return self.pos.shape[-2]


def kinetic_energy(s: BallState) -> jax.Array:
    """(...,) total kinetic energy of present balls."""
    v2 = jnp.sum(s.vel**2, axis=-1)
    return 0.5 * jnp.sum(jnp.where(s.present, s.mass * v2, 0.0), axis=-1)


def potential_energy(s: BallState) -> jax.Array:
    """(...,) gravitational potential energy relative to the floor (y = 1)."""
    height = 1.0 - s.pos[..., 1]  # (..., K)
    g = s.gravity[..., 1:2]  # (..., 1)
    return jnp.sum(jnp.where(s.present, s.mass * g * height, 0.0), axis=-1)


def momentum(s: BallState) -> jax.Array:
    """(..., 2) total linear momentum of present balls."""
    return jnp.sum(jnp.where(s.present[..., None], s.mass[..., None] * s.vel, 0.0), axis=-2)


@dataclass(frozen=True)
class Episode:
    """A batch of sampled clips with their exact physical states."""

    frames: jax.Array  # (B, T, H, W, 3) uint8
    states: BallState  # leaves with leading (B, T)
    actions: jax.Array  # (B, T, A) float32; actions[:, t] acts between frame t and t+1; A = 0 in passive worlds
    captions: list[str]  # B captions, deterministic from the initial state
    facts: list[dict[str, Any]]  # B structured descriptions behind the captions (for evaluation)
    world: str  # name of the world that made it
    dt: float  # seconds between frames

    @property
    def batch_size(self) -> int:
        return int(self.frames.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[1])

    def __getitem__(self, idx) -> "Episode":
        """Select clips along the batch axis (int, slice or index array); keeps the batch axis."""
        if isinstance(idx, int):
            idx = slice(idx, idx + 1)
        pick = lambda x: x[idx]  # noqa: E731
        rows = list(range(self.batch_size))[idx] if isinstance(idx, slice) else [int(i) for i in idx]
        return Episode(
            frames=self.frames[idx],
            states=jax.tree.map(pick, self.states),
            actions=self.actions[idx],
            captions=[self.captions[i] for i in rows],
            facts=[self.facts[i] for i in rows],
            world=self.world,
            dt=self.dt,
        )


def ball_states(pos, radius, colour, present=None, vel=None, gravity=None) -> BallState:
    """Build a BallState from arrays (e.g. trajectories from another engine) to render: pos (..., K, 2)."""
    pos = jnp.asarray(pos, jnp.float32)
    if pos.ndim < 2 or pos.shape[-1] != 2:
        raise ValueError(f"pos must have shape (..., K, 2), got {pos.shape}")
    lead_k = pos.shape[:-1]
    radius = jnp.broadcast_to(jnp.asarray(radius, jnp.float32), lead_k)
    colour = jnp.broadcast_to(jnp.asarray(colour, jnp.int32), lead_k)
    present = jnp.ones(lead_k, bool) if present is None else jnp.broadcast_to(jnp.asarray(present, bool), lead_k)
    vel = jnp.zeros_like(pos) if vel is None else jnp.asarray(vel, jnp.float32)
    gravity = jnp.zeros(pos.shape[:-2] + (2,), jnp.float32) if gravity is None else jnp.asarray(gravity, jnp.float32)
    from worldsim.worlds.config import REFERENCE_RADIUS

    return BallState(pos, vel, radius, (radius / REFERENCE_RADIUS) ** 2, colour, present, jnp.zeros(lead_k, bool), gravity)
