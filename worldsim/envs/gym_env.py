"""Gymnasium environment over the learned simulator, registered as "worldsim/WorldSim-v0".

    import gymnasium as gym, worldsim
    env = gym.make("worldsim/WorldSim-v0", render_mode="rgb_array")   # model="default", 100 steps an episode
    obs, info = env.reset(seed=0)      # a push-world scene drawn from the seed (envs.scenes)
    obs, info = env.reset(seed=0, options={"prompt": "a red ball and a green ball"})   # or your own start
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())

Observations are uint8 (H, W, 3) frames; actions (A,) in [-1, 1] (clipped). Reward and termination come from
the task (default: bring the red ball to a goal; see envs.tasks); episodes are truncated after max_steps (None:
no limit of its own; gym.make registers it so, and its TimeLimit wrapper truncates at max_episode_steps, 100).
Without a prompt or frames, each episode starts from a scene of `world` (None: an empty start).
"""

from __future__ import annotations

import gymnasium as gym
import jax
import numpy as np

from worldsim.envs import adapter, scenes
from worldsim.sim import checks, compiled

OPTIONS = ("prompt", "frames", "frame_actions")


def readout_info(readout) -> dict:
    """Fresh numpy copies of a readout for an info dict (None without a state head)."""
    if readout is None:
        return {}
    return {"readout": {k: np.array(v) for k, v in readout._asdict().items()}}


class WorldSimEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(self, model="default", task=None, prompt: str | None = None, max_steps: int | None = 100,
                 render_mode: str | None = None, steps: int | None = None, temperature: float | None = None,
                 world: str | None = scenes.DEFAULT_WORLD, start_frames: int = scenes.START_FRAMES):
        self.observation_space, self.action_space = adapter.configure(
            self, model, task, prompt, adapter.episode_limit(max_steps), render_mode, steps, temperature, world,
            start_frames)
        self._state = None
        self._key = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        adapter.apply_options(self, options, OPTIONS)
        # Keys come from the seeded generator, so reset(seed=s) and every later reset() are reproducible.
        seeds = self.np_random.integers(0, 2**32, size=2, dtype=np.uint64)
        self._key = jax.random.key(int(seeds[1]))
        obs, self._state = adapter.reset(self.env, self._params, jax.random.key(int(seeds[0])))
        return np.array(obs), {"t": 0, **readout_info(compiled.readout(self.model, self._state))}

    def step(self, action):
        if self._state is None:
            raise RuntimeError("call env.reset() before env.step()")
        if bool(self._state.done):
            raise ValueError("the episode has ended (terminated or truncated): call env.reset() to start a new one")
        a = checks.check_actions(action, (), self.model.action_dim)
        obs, self._state, reward, terminated, truncated, readout = adapter.step(self.env, self._params, self._state,
                                                                                a, self._key)
        self._state = self._state._replace(done=self._state.done | truncated)  # no steps past a truncation either
        return (np.array(obs), float(reward), bool(terminated), bool(truncated),
                {"t": int(self._state.t), **readout_info(readout)})

    def render(self):
        if self.render_mode is None or self._state is None:
            return None
        return np.array(compiled.render(self.model, self._state))
