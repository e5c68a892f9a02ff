"""A world per seed: each episode of the envs starts from a scene of a ground-truth world (its first frames and the
actions between them), drawn from the episode's key, so seeds give different scenes and a seed gives the same one.

First frames rather than the world's caption: they are pure JAX (so the functional env stays jittable, where a
caption is Python text) and they hold exactly the balls, places and motions of the scene. A task that reads one
ball (e.g. ReachGoal's red ball) gets scenes that have it: the start is redrawn until it does, which is the
world's distribution conditioned on the task making sense.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from worldsim import worlds
from worldsim.worlds import dynamics, render
from worldsim.worlds.config import WorldConfig
from worldsim.worlds.init import initial_state

DEFAULT_WORLD = "push"  # its agent is the red ball the default task (ReachGoal) moves, under the envs' actions
START_FRAMES = 3  # given frames per start: the dynamics sees the balls move before the first step
_TRIES = 64  # redraws of a start that lacks the task's ball (a bouncing_balls start lacks red ~58% of the time)


def check(world, start_frames) -> None:
    """Refuse a bad world / start_frames setting with the fix (the envs call this at construction)."""
    if world is not None and world not in worlds.names():
        raise ValueError(f"world={world!r}: use one of {', '.join(worlds.names())}, or None to start from the "
                         "prompt / frames you pass (an empty scene without either)")
    if isinstance(start_frames, bool) or not isinstance(start_frames, int) or not 1 <= start_frames <= 64:
        raise ValueError(f"start_frames={start_frames!r}: use an integer in [1, 64] (frames given per start)")


@functools.lru_cache(maxsize=32)
def config(world: str, resolution: int, start_frames: int, action_dim: int, colour: int | None) -> WorldConfig:
    """The world's config at the model's resolution, checked against the model and the task once."""
    cfg = worlds.make(world, resolution=resolution, num_frames=max(start_frames, 2)).config  # the world needs >= 2
    if cfg.action_dim not in (0, action_dim):
        raise ValueError(f"world {world!r} acts with {cfg.action_dim}-vectors but the model takes {action_dim}: "
                         "pick a world of the model's action size, or world=None and your own frames")
    check_colour(cfg, world, colour)
    return cfg


def check_colour(cfg: WorldConfig, world: str, colour: int | None) -> None:
    """Refuse a task ball the world never shows (the redraws in _start would never find it)."""
    if colour is None:
        return
    # Slot 0 of a controllable world is always red (the agent), so another colour needs a second ball.
    need = 2 if (cfg.controllable and colour != 0) else 1
    if cfg.num_balls[1] < need:
        raise ValueError(f"world {world!r} never has a {worlds.COLOUR_NAMES[colour]} ball, which the task reads: "
                         "pick a task for a ball it has (e.g. ReachGoal(colour=0)) or another world")


def _start(cfg: WorldConfig, key, colour: int | None):
    """A random initial state; with colour, one that has a ball of that colour (redrawn up to _TRIES times)."""
    k0, key = jax.random.split(key)
    s = initial_state(cfg, k0)
    if colour is None:
        return s
    has = lambda s: jnp.any(s.present & (s.colour == colour))  # noqa: E731

    def body(carry):
        i, _, k = carry
        k, sub = jax.random.split(k)
        return i + 1, initial_state(cfg, sub), k

    _, s, _ = jax.lax.while_loop(lambda c: (c[0] < _TRIES) & ~has(c[1]), body, (0, s, key))
    return s


def draw(cfg: WorldConfig, key, start_frames: int, action_dim: int, colour: int | None = None):
    """One scene (pure, jittable) -> (frames uint8 (k, R, R, 3), actions (k - 1, A) between them)."""
    k_state, k_act = jax.random.split(key)
    s0 = _start(cfg, k_state, colour)
    actions = dynamics.random_actions(cfg, k_act)  # (T, A_world), A_world = action_dim or 0
    states, _ = dynamics.simulate(cfg, s0, actions)  # (T, ...): frame 0 is s0, frame t + 1 follows actions[t]
    frames = render.render(jax.tree.map(lambda x: x[:start_frames], states), cfg.resolution, cfg.occluder)
    between = actions[: start_frames - 1]
    if between.shape[-1] != action_dim:  # a passive world: the model's action is "no push"
        between = jnp.zeros((start_frames - 1, action_dim), jnp.float32)
    return frames, between


@functools.partial(jax.jit, static_argnums=(0, 2, 3, 4, 5))
def draw_keys(cfg: WorldConfig, keys, start_frames: int, action_dim: int, colour: int | None, rank: int):
    """draw() compiled for the stateful adapters, over keys with `rank` (0 or 1) leading batch axes."""
    one = lambda k: draw(cfg, k, start_frames, action_dim, colour)  # noqa: E731
    return one(keys) if rank == 0 else jax.vmap(one)(keys)
