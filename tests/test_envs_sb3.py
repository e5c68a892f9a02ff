"""The README's Stable-Baselines3 example runs: PPO with SB3's CnnPolicy learns on the Gymnasium env.

Run as written except for two swaps: the shipped model becomes a tiny random one whose frames are 64x64 like the
default's (SB3's NatureCNN needs at least 36x36, the tiny preset's are 32x32), and total_timesteps becomes one
rollout of n_steps (the README's 20,000 steps take minutes)."""

import re
from pathlib import Path

import numpy as np
import stable_baselines3 as sb3  # the test extra installs it (and its CPU PyTorch): no skip

from worldsim.envs import functional
from worldsim.sim import WorldModel
from worldsim.tokenizer.config import TokenizerConfig

README = Path(__file__).resolve().parent.parent / "README.md"


def snippet() -> str:
    section = README.read_text().split("## Agents and reinforcement learning", 1)[1].split("\n## ", 1)[0]
    (code,) = [c for c in re.findall(r"```python\n(.*?)```", section, re.S) if "stable_baselines3" in c]
    return code


def tiny_64() -> WorldModel:
    """The tiny dynamics over a 64x64 tokenizer with the tiny one's 4x4x8 latents (patch 16: one more scale)."""
    return WorldModel.random(tokenizer_config=TokenizerConfig(resolution=64, patch=16, widths=(8, 16, 16, 16),
                                                              latent_dim=8))


def test_readme_sb3_ppo_example_runs(monkeypatch):
    code = snippet()
    assert len(code.strip().splitlines()) <= 8
    assert 'gym.make("worldsim/WorldSim-v0")' in code and 'PPO("CnnPolicy", env' in code
    steps = re.search(r"n_steps=(\d+)", code).group(1)
    code, n = re.subn(r"total_timesteps=[\d_]+", f"total_timesteps={steps}", code)
    assert n == 1
    monkeypatch.setattr(functional, "load", lambda name="default": tiny_64())
    namespace = {}
    exec(compile(code, str(README), "exec"), namespace)
    agent, env, obs = namespace["agent"], namespace["env"], namespace["obs"]
    assert isinstance(agent, sb3.PPO) and agent.num_timesteps == int(steps)  # one rollout collected, then trained
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8
    assert env.action_space.contains(namespace["action"])
