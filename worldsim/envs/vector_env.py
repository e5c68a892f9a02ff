"""A Gymnasium VectorEnv of num_envs episodes stepped together by the jit(vmap) core (worldsim.sim.compiled), with
NEXT_STEP autoreset (gymnasium >= 1.0's default): after an episode ends, the next step() call resets it, ignores
its action, and returns its first frame with reward 0 and terminated = truncated = False.

    envs = WorldSimVectorEnv(8, model="default", max_steps=100)
    obs, info = envs.reset(seed=0)                     # uint8 (8, H, W, 3): 8 push-world scenes (envs.scenes)
    obs, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from worldsim.envs import adapter, scenes
from worldsim.envs.gym_env import OPTIONS
from worldsim.sim import checks, compiled


class WorldSimVectorEnv(VectorEnv):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 20, "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int, model="default", task=None, prompt: str | None = None,
                 max_steps: int | None = None, render_mode: str | None = None, steps: int | None = None,
                 temperature: float | None = None, world: str | None = scenes.DEFAULT_WORLD,
                 start_frames: int = scenes.START_FRAMES, max_episode_steps: int | None = None):
        # Episode length: max_steps, else max_episode_steps (what gym.make_vec passes from the spec), else 100.
        self.num_envs = checks.check_batch_size(num_envs)
        if self.num_envs is None:
            raise ValueError("num_envs=None: use an integer >= 1")
        limit = adapter.episode_limit(max_steps, 100 if max_episode_steps is None else max_episode_steps)
        self.single_observation_space, self.single_action_space = adapter.configure(
            self, model, task, prompt, limit, render_mode, steps, temperature, world, start_frames)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._states = None
        self._reset_next = np.zeros(self.num_envs, bool)

    def _key(self) -> jax.Array:
        return jax.random.key(int(self.np_random.integers(0, 2**32, dtype=np.uint64)))

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        adapter.apply_options(self, options, OPTIONS)
        obs, self._states = adapter.reset(self.env, self._params, self._key(), self.num_envs)
        self._reset_next = np.zeros(self.num_envs, bool)
        return np.array(obs), {}

    def step(self, actions):
        if self._states is None:
            raise RuntimeError("call envs.reset() before envs.step()")
        a = checks.check_actions(actions, (self.num_envs,), self.model.action_dim, "actions")
        obs, new, reward, term, trunc, _ = adapter.step(self.env, self._params, self._states, a, self._key(), rank=1)
        if self._reset_next.any():  # NEXT_STEP autoreset: episodes that ended last call start anew, action ignored
            ended = np.flatnonzero(self._reset_next)  # only those are reset (a batch-wide reset cost 1.7-1.9x a step)
            fresh_obs, fresh = adapter.reset(self.env, self._params, self._key(), self.num_envs, only=ended)
            obs, new = adapter.put((obs, new), ended, (fresh_obs, fresh))
            mask = jnp.asarray(self._reset_next)
            reward, term, trunc = (jnp.where(mask, 0, x) for x in (reward, term, trunc))
        self._states = new
        term, trunc = np.array(term, bool), np.array(trunc, bool)
        self._reset_next = term | trunc
        return np.array(obs), np.array(reward, np.float64), term, trunc, {}

    def render(self):
        if self.render_mode is None or self._states is None:
            return None
        return tuple(np.array(compiled.render(self.model, self._states, rank=1)))
