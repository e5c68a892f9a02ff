"""Scores for the planner: total task reward of candidate action sequences, predicted by the learned simulator
(from its physics readout, no frames decoded) or by the true world physics (the upper baseline)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from worldsim.data.states import states_by_colour
from worldsim.sim import Readout, SimState, WorldModel, core
from worldsim.worlds import COLOUR_NAMES, WorldConfig, dynamics as world_dynamics
from worldsim.worlds.state import BallState


def learned(model: WorldModel, state: SimState, task, key, temperature: float = 0.0, steps: int | None = None,
            reproject: bool | None = None):
    """Score = summed task reward along rollouts of the learned simulator from `state`. The state is forked into
    one copy per candidate; temperature 0 (the default) rolls out the mean flow, so candidates are compared on the
    same (noise-free) prediction. reproject: None = the model's own setting."""
    reproject = model.sampling.reproject if reproject is None else bool(reproject)

    def score(actions):  # (N, H, A)
        kids = core.fork(state, actions.shape[0])
        roll = lambda s, a: core.rollout(model, s, a, key, decode=False, steps=steps,  # noqa: E731
                                         temperature=temperature, reproject=reproject)
        _, outs = jax.vmap(roll)(kids, actions)
        reward = jax.vmap(jax.vmap(task.reward))(outs.readout)  # (N, H)
        return jnp.sum(jnp.where(outs.valid, reward, 0.0), axis=1)

    return score


def readout_of(s: BallState) -> Readout:
    """The true state in the simulator's readout format (per colour slot)."""
    pos, vel, present = states_by_colour(s.pos, s.vel, s.colour, s.present, len(COLOUR_NAMES))
    return Readout(present=present.astype(jnp.float32), pos=pos, vel=vel)


def true(cfg: WorldConfig, state: BallState, task):
    """Score = summed task reward along the exact world physics from `state`."""

    def one(actions):  # (H, A)
        def body(s, a):
            s = world_dynamics.step(cfg, s, a)[0]
            return s, task.reward(readout_of(s))

        return jnp.sum(jax.lax.scan(body, state, actions)[1])

    return jax.vmap(one)
