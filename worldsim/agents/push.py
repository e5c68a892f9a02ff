"""Closed-loop trials in the real push world: a policy acts on what it observes, the exact world physics moves
the balls, and the trial succeeds when the agent ball (red, colour slot 0) gets within a radius of a goal.
Every policy meets the same starts and goals (paired comparison)."""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import jax
import jax.numpy as jnp
import numpy as np

from worldsim.agents.policies import Observation, Policy
from worldsim.envs.tasks import Goal
from worldsim.worlds import WorldConfig, dynamics as world_dynamics, render as world_render
from worldsim.worlds.init import initial_state


@dataclass(frozen=True)
class Trial:
    max_steps: int = 40  # steps (frames) allowed to reach the goal
    radius: float = 0.1  # success distance, world units
    goal_margin: float = 0.2  # goals lie in [margin, 1 - margin]^2
    min_start_distance: float = 0.3  # goals start at least this far from the agent ball
    context: int = 3  # frames the learned planner starts each simulation from (with the actions between them)

    def __post_init__(self):
        if self.max_steps < 1 or self.context < 1:
            raise ValueError("max_steps and context must be >= 1")
        if not 0.0 < self.radius < self.min_start_distance:
            raise ValueError("need 0 < radius < min_start_distance, or trials would start solved")


@functools.lru_cache(maxsize=8)
def _world_fns(cfg: WorldConfig):
    step = jax.jit(lambda s, a: world_dynamics.step(cfg, s, a)[0])
    draw = jax.jit(lambda s: world_render.render(s, cfg.resolution, cfg.occluder))
    return step, draw


def start(cfg: WorldConfig, key, trial: Trial):
    """(initial world state, goal centre): the goal is the first of 16 candidates far enough from the agent."""
    k_s, k_g = jax.random.split(key)
    s = initial_state(cfg, k_s)
    cands = jax.random.uniform(k_g, (16, 2), minval=trial.goal_margin, maxval=1.0 - trial.goal_margin)
    far = jnp.linalg.norm(cands - s.pos[0], axis=-1) >= trial.min_start_distance
    return s, cands[jnp.argmax(far)]


def episode(policy: Policy, cfg: WorldConfig, key, trial: Trial) -> dict:
    """One trial -> {success, steps, start_distance, final_distance}."""
    step, draw = _world_fns(cfg)
    k_start, k_act = jax.random.split(key)
    s, centre = start(cfg, k_start, trial)
    goal = Goal(centre, jnp.float32(trial.radius), 0)
    frames = jnp.repeat(draw(s)[None], trial.context, axis=0)  # before the first frame: the ball held still
    acts = jnp.zeros((trial.context - 1, cfg.action_dim), jnp.float32)
    carry = policy.carry
    dist = lambda st: float(jnp.linalg.norm(st.pos[0] - centre))  # noqa: E731
    d0, t = dist(s), 0
    while t < trial.max_steps and dist(s) >= trial.radius:
        a, carry = policy.act(jax.random.fold_in(k_act, t), Observation(s, frames, acts), goal, carry)
        s = step(s, a)
        frames = jnp.concatenate([frames[1:], draw(s)[None]])
        acts = jnp.concatenate([acts[1:], a[None]]) if trial.context > 1 else acts
        t += 1
    d = dist(s)
    return {"success": d < trial.radius, "steps": t, "start_distance": d0, "final_distance": d}


def evaluate(policies: dict[str, Policy], cfg: WorldConfig, episodes: int, seed: int = 0,
             trial: Trial = Trial()) -> dict:
    """Run every policy on the same `episodes` trials -> {name: {success_rate, mean_steps_to_success, ...}}."""
    if not cfg.controllable:
        raise ValueError("trials need a controllable world: use worldsim.worlds.make('push', ...)")
    keys = jax.random.split(jax.random.key(seed), episodes)
    out = {"trial": asdict(trial), "episodes": episodes, "seed": seed, "policies": {}}
    for name, policy in policies.items():
        runs = [episode(policy, cfg, k, trial) for k in keys]
        wins = [r for r in runs if r["success"]]
        out["policies"][name] = {
            "success_rate": len(wins) / episodes,
            "mean_steps_to_success": float(np.mean([r["steps"] for r in wins])) if wins else None,
            "mean_final_distance": float(np.mean([r["final_distance"] for r in runs])),
            "runs": runs,
        }
    return out
