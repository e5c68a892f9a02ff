"""Policies for the push world, all with one signature so the episode runner treats them alike:

    act(key, obs: Observation, goal: Goal, carry) -> (action (A,), carry)       # jitted

`carry` is the policy's own memory (the CEM plan, warm-started step to step). Only the true-physics planner reads
obs.state (the exact world state); the learned planner sees what a camera would: the last frames and actions.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from worldsim.agents import cem, scorers
from worldsim.sim import WorldModel, core
from worldsim.worlds import WorldConfig
from worldsim.worlds.state import BallState


class Observation(NamedTuple):
    state: BallState  # exact world state (the upper baseline's privilege)
    frames: jax.Array  # uint8 (k, H, W, 3) the last k rendered frames, oldest first
    actions: jax.Array  # (k - 1, A) the actions taken between them


class Policy(NamedTuple):
    act: object  # jitted (key, obs, goal, carry) -> (action, carry)
    carry: object  # initial carry


def random_policy(action_dim: int) -> Policy:
    """Uniform actions in [-1, 1]: the lower baseline."""
    return Policy(jax.jit(lambda key, obs, goal, carry: (
        jax.random.uniform(key, (action_dim,), minval=-1.0, maxval=1.0), carry)), jnp.zeros(()))


def true_planner(world: WorldConfig, cfg: cem.CEMConfig) -> Policy:
    """CEM on the exact world physics from the exact state: the upper baseline."""

    def act(key, obs, goal, mean):
        a, mean = cem.plan(scorers.true(world, obs.state, goal), key, cfg, world.action_dim, mean)
        return a, cem.shift(mean)

    return Policy(jax.jit(act), jnp.zeros((cfg.horizon, world.action_dim), jnp.float32))


def learned_planner(model: WorldModel, cfg: cem.CEMConfig, temperature: float = 0.0,
                    steps: int | None = None, reproject: bool | None = None) -> Policy:
    """CEM on the learned simulator: every step it starts a simulation from the last real frames (no prompt:
    the frames carry the scene), forks it per candidate and scores rollouts by the task reward on the readout.
    reproject: None = the model's own setting (model.sampling); False is ~5x cheaper per plan."""
    reproject = model.sampling.reproject if reproject is None else bool(reproject)
    if not model.has_state_head:
        raise ValueError(f"planning scores the physics readout, but {model.no_readout}")

    def act(key, obs, goal, mean):
        k_init, k_roll, k_plan = jax.random.split(key, 3)
        state = core.init(model, k_init, None, obs.frames, obs.actions, steps=steps, temperature=temperature,
                          reproject=reproject)
        score = scorers.learned(model, state, goal, k_roll, temperature, steps, reproject)
        a, mean = cem.plan(score, k_plan, cfg, model.action_dim, mean)
        return a, cem.shift(mean)

    return Policy(jax.jit(act), jnp.zeros((cfg.horizon, model.action_dim), jnp.float32))
