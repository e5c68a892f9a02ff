"""Violation-of-expectation clips: the same start rolled out twice, once lawfully and once with a violation.

Both rollouts run in one vmapped program over the same inputs, so every frame before the violation frame `tv` is
bit-identical and frame `tv` is the first that differs. Kinds:
  teleport       the ball jumps to a free spot at least 0.3 away at frame tv, then moves on lawfully
  vanish         the ball disappears at frame tv (and stops taking part in collisions)
  colour_change  the ball takes a colour no other ball has at frame tv
  energy_gain    the ball's speed at least doubles (+0.4 minimum) between frame tv-1 and tv
  gravity_flip   gravity points up from frame tv-1 on (gravity world only)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from worldsim.worlds import dynamics
from worldsim.worlds.config import WorldConfig
from worldsim.worlds.init import initial_state
from worldsim.worlds.palette import COLOURS
from worldsim.worlds.state import BallState

KINDS = ("teleport", "vanish", "colour_change", "energy_gain", "gravity_flip")
_CANDIDATES = 64


def _teleport(s: BallState, ball, candidates):
    r = s.radius[ball]
    others = s.present & (jnp.arange(s.pos.shape[0]) != ball)
    cand = r + 0.01 + candidates * (1.0 - 2 * (r + 0.01))  # (N,2) inside the box
    d = jnp.linalg.norm(cand[:, None] - s.pos[None], axis=-1)  # (N,K)
    clear = jnp.all((d > r + s.radius + 0.01) | ~others[None], axis=1)
    far = jnp.linalg.norm(cand - s.pos[ball], axis=-1) > 0.3
    good = clear & far
    fallback = 1.0 - s.pos[ball]  # the mirror image through the centre
    new = jnp.where(jnp.any(good), cand[jnp.argmax(good)], fallback)
    return s._replace(pos=s.pos.at[ball].set(new))


def _recolour(s: BallState, ball):
    used = jnp.any((s.colour[:, None] == jnp.arange(len(COLOURS))[None]) & s.present[:, None], axis=0)
    free = jnp.where(jnp.any(~used), jnp.argmax(~used), (s.colour[ball] + 1) % len(COLOURS))
    return s._replace(colour=s.colour.at[ball].set(free.astype(s.colour.dtype)))


def _speed_up(s: BallState, ball, direction):
    v = s.vel[ball]
    speed = jnp.linalg.norm(v)
    unit = jnp.where(speed > 1e-6, v / jnp.maximum(speed, 1e-6), direction)
    return s._replace(vel=s.vel.at[ball].set(unit * jnp.maximum(2.0 * speed, speed + 0.4)))


def violation_pair(cfg: WorldConfig, kind: str, key: jax.Array):
    """One matched pair (unbatched): (states (2, T, ...) [possible, impossible], actions (T, A), tv, ball)."""
    if kind not in KINDS:
        raise ValueError(f"unknown violation kind {kind!r}: choose one of {', '.join(KINDS)}")
    if kind == "gravity_flip" and cfg.gravity <= 0:
        raise ValueError("gravity_flip needs a world with gravity > 0: use the 'gravity' world")
    k_s, k_a, k_t, k_b, k_c, k_d = jax.random.split(key, 6)
    s0 = initial_state(cfg, k_s)
    actions = dynamics.random_actions(cfg, k_a)
    t_count = cfg.num_frames
    tv = jax.random.randint(k_t, (), max(1, t_count // 4), max(2, (3 * t_count) // 4 + 1))
    ball = jax.random.choice(k_b, s0.pos.shape[0], p=s0.present / jnp.sum(s0.present))
    candidates = jax.random.uniform(k_c, (_CANDIDATES, 2))
    angle = jax.random.uniform(k_d, (), maxval=2 * jnp.pi)
    direction = jnp.stack([jnp.cos(angle), jnp.sin(angle)])

    def rollout(active):
        def at_tv(t, s, fn):
            new = fn(s)
            return jax.tree.map(lambda a, b: jnp.where(active & (t == tv), a, b), new, s)

        def pre(t, s):
            if kind == "energy_gain":
                return at_tv(t, s, lambda x: _speed_up(x, ball, direction))
            if kind == "gravity_flip":
                return at_tv(t, s, lambda x: x._replace(gravity=-x.gravity))
            return s

        def post(t, s):
            if kind == "teleport":
                return at_tv(t, s, lambda x: _teleport(x, ball, candidates))
            if kind == "vanish":
                return at_tv(t, s, lambda x: x._replace(present=x.present.at[ball].set(False)))
            if kind == "colour_change":
                return at_tv(t, s, lambda x: _recolour(x, ball))
            return s

        states, _ = dynamics.simulate(cfg, s0, actions, pre, post)
        return states

    states = jax.vmap(rollout)(jnp.array([False, True]))
    return states, actions, tv, ball
