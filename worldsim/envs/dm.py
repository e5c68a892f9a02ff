"""dm_env.Environment over the learned simulator, with exact specs.

    env = WorldSimDmEnv(model="default", seed=0, max_steps=100)
    ts = env.reset()                       # StepType.FIRST, reward/discount None, observation uint8 (H, W, 3)
                                           # (a scene of `world`, "push", drawn per episode, unless prompt/frames)
    ts = env.step(np.zeros(2, np.float32))

Termination (the task's goal reached) ends an episode with discount 0; truncation at max_steps ends it with
discount 1 (the dm_env convention: the value of the last state still counts). A step after the end starts a new
episode (returning its FIRST step), as does a step on a fresh environment.
"""

from __future__ import annotations

import dm_env
import jax
import numpy as np
from dm_env import specs

from worldsim.envs import adapter, functional as fn, scenes
from worldsim.envs.tasks import ReachGoal
from worldsim.sim import checks


class WorldSimDmEnv(dm_env.Environment):
    def __init__(self, model="default", task=None, prompt: str | None = None, frames=None, max_steps: int = 100,
                 seed: int = 0, steps: int | None = None, temperature: float | None = None,
                 world: str | None = scenes.DEFAULT_WORLD, start_frames: int = scenes.START_FRAMES):
        self.model = fn.as_model(model)
        self.env = fn.FunctionalEnv(task=ReachGoal() if task is None else task, max_steps=max_steps, steps=steps,
                                    temperature=temperature, world=world, start_frames=start_frames)
        self._params = fn.env_params(self.model, prompt, frames)
        self._rng = np.random.default_rng(seed)  # draws each episode's keys: same seed, same episodes
        self._state, self._key, self._needs_reset = None, None, True

    def reset(self) -> dm_env.TimeStep:
        seeds = self._rng.integers(0, 2**32, size=2, dtype=np.uint64)
        self._key = jax.random.key(int(seeds[1]))
        obs, self._state = adapter.reset(self.env, self._params, jax.random.key(int(seeds[0])))
        self._needs_reset = False
        return dm_env.restart(np.array(obs))

    def step(self, action) -> dm_env.TimeStep:
        if self._needs_reset:
            return self.reset()
        a = checks.check_actions(action, (), self.model.action_dim)
        obs, self._state, reward, term, trunc, _ = adapter.step(self.env, self._params, self._state, a, self._key)
        obs, reward = np.array(obs), np.float32(reward)
        if bool(term):
            self._needs_reset = True
            return dm_env.TimeStep(dm_env.StepType.LAST, reward, np.float32(0.0), obs)  # float32, as the spec says
        if bool(trunc):
            self._needs_reset = True
            return dm_env.truncation(reward, obs, discount=np.float32(1.0))
        return dm_env.transition(reward, obs, discount=np.float32(1.0))

    def observation_spec(self) -> specs.BoundedArray:
        r = self.model.resolution
        return specs.BoundedArray((r, r, 3), np.uint8, 0, 255, name="frame")

    def action_spec(self) -> specs.BoundedArray:
        return specs.BoundedArray((self.model.action_dim,), np.float32, -1.0, 1.0, name="action")

    def reward_spec(self) -> specs.Array:
        return specs.Array((), np.float32, name="reward")

    def discount_spec(self) -> specs.BoundedArray:
        return specs.BoundedArray((), np.float32, 0.0, 1.0, name="discount")
