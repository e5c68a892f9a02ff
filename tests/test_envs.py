"""Environment adapters on the tiny random model: Gymnasium check_env (warnings as errors), reset options and
seeds, the VectorEnv's NEXT_STEP autoreset, dm_env's EnvironmentTestMixin and exact specs, the functional env
under jit/vmap/scan, and the goal task."""

import unittest
import warnings
from dataclasses import dataclass

import dm_env
import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from dm_env import test_utils
from gymnasium.utils.env_checker import check_env
from simtools import frames, tiny_model

from worldsim.envs import (
    ENV_ID, FunctionalEnv, NoTask, ReachGoal, WorldSimDmEnv, WorldSimEnv, WorldSimVectorEnv, env_params,
)
from worldsim.sim import Readout

MAX = 5  # every adapter below uses this step limit and the default task, so they share one compiled env


@dataclass(frozen=True)
class EndsAtOnce:
    """A task that pays 1 and terminates at the first step."""

    def reward(self, readout):
        return jnp.ones((), jnp.float32)

    def terminal(self, readout):
        return jnp.ones((), bool)


def test_gymnasium_check_env_passes_with_warnings_as_errors():
    env = gym.make(ENV_ID, model=tiny_model(), max_steps=MAX)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)
    env.close()


def test_gym_reset_options_seed_truncation_and_termination():
    env = WorldSimEnv(tiny_model(), max_steps=MAX, render_mode="rgb_array")
    a, _ = env.reset(seed=3)
    b, _ = env.reset(seed=3)
    c, _ = env.reset(seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    # The random model reads no ball from a start of its own (presence < 0.5), so the goal task would refuse it.
    env = WorldSimEnv(tiny_model(), task=NoTask(), max_steps=MAX, render_mode="rgb_array")
    obs, info = env.reset(seed=0, options={"prompt": "a red ball", "frames": frames(3),
                                           "frame_actions": np.zeros((2, 2))})
    assert obs.shape == (32, 32, 3) and obs.dtype == np.uint8 and info["t"] == 0
    assert np.array_equal(env.render(), obs) and info["readout"]["pos"].shape == (6, 2)
    for t in range(1, MAX + 1):
        obs, reward, terminated, truncated, info = env.step(np.zeros(2, np.float32))
        assert info["t"] == t and isinstance(reward, float)
        if terminated:
            break
    assert terminated or truncated  # truncated at MAX unless the random readout met the goal first
    with pytest.raises(ValueError, match="env.reset"):
        env.step(np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"prompts": "typo"})
    with pytest.raises(ValueError, match="NaN"):
        env.reset(seed=0)
        env.step(np.array([np.nan, 0.0], np.float32))
    ending = WorldSimEnv(tiny_model(), task=EndsAtOnce(), max_steps=MAX)
    ending.reset(seed=0)
    _, reward, terminated, truncated, _ = ending.step(np.zeros(2, np.float32))
    assert reward == 1.0 and terminated is True and truncated is False


def test_vector_env_next_step_autoreset():
    envs = WorldSimVectorEnv(3, model=tiny_model(), task=NoTask(), max_steps=2)  # episodes end by truncation
    assert envs.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (3, 32, 32, 3) and obs in envs.observation_space
    act = np.zeros((3, 2), np.float32)
    seen = []
    for _ in range(3):
        obs, reward, term, trunc, _ = envs.step(act)
        assert obs in envs.observation_space and reward.shape == term.shape == trunc.shape == (3,)
        seen.append((term | trunc).copy())
    # Every episode is truncated at step 2; the call after that resets it: reward 0, no end flags.
    assert not seen[0].any() and seen[1].all()
    assert not seen[2].any() and (reward == 0).all()
    again = gym.make_vec(ENV_ID, num_envs=3, model=tiny_model(), task=NoTask(), max_steps=2)  # registered entry
    assert isinstance(again, WorldSimVectorEnv)
    first, _ = again.reset(seed=0)
    assert np.array_equal(first, envs.reset(seed=0)[0])  # seeded: reproducible
    with pytest.raises(ValueError, match=r"shape \(3, 2\)"):
        envs.step(np.zeros((2, 2), np.float32))


def test_vector_env_resets_only_the_envs_that_ended():
    """The auto-reset of a few ended envs starts them exactly as a reset of the whole batch would (same keys, same
    lineage), for a count that needs padding (3 -> 4) and one that does not (2)."""
    from worldsim.envs import adapter

    envs = WorldSimVectorEnv(5, model=tiny_model(), task=NoTask(), max_steps=2)
    key = jax.random.key(7)
    whole = adapter.reset(envs.env, envs._params, key, 5)
    for ended in ([1, 3], [0, 2, 4]):
        some = adapter.reset(envs.env, envs._params, key, 5, only=np.array(ended))
        assert jax.tree.all(jax.tree.map(lambda a, b: bool(np.allclose(a[np.array(ended)], b, atol=1e-5)), whole, some))


class DmEnvContract(test_utils.EnvironmentTestMixin, unittest.TestCase):
    """dm_env's own contract tests (reset/step types, FIRST/LAST ordering, specs on every step)."""

    def make_object_under_test(self):
        return WorldSimDmEnv(model=tiny_model(), max_steps=MAX, seed=0)


def test_dm_env_specs_are_exact():
    env = WorldSimDmEnv(model=tiny_model(), task=EndsAtOnce(), max_steps=MAX, seed=1)
    first = env.reset()
    assert first.first() and first.reward is None and first.discount is None
    last = env.step(np.zeros(2, np.float32))
    assert last.last() and last.step_type is dm_env.StepType.LAST
    env.reward_spec().validate(last.reward)
    env.discount_spec().validate(last.discount)
    env.observation_spec().validate(last.observation)
    assert last.discount == 0.0 and last.reward.dtype == np.float32
    assert env.step(np.zeros(2, np.float32)).first()  # a step after LAST starts a new episode


def test_functional_env_under_jit_vmap_and_scan():
    env = FunctionalEnv(max_steps=3, decode=False, steps=1)  # latents, one Euler step: a small program to compile
    params = env_params(tiny_model(), prompt="a red ball")
    keys = jax.random.split(jax.random.key(0), 4)

    @jax.jit
    def run(keys, key):
        obs, state = jax.vmap(env.reset, in_axes=(0, None))(keys, params)

        def body(s, k):
            acts = jax.random.uniform(k, (4, 2), minval=-1, maxval=1)
            o, s, r, d, info = jax.vmap(env.step, in_axes=(0, 0, 0, None))(jax.random.split(k, 4), s, acts, params)
            return s, (o, r, d, info["t"])

        return obs, jax.lax.scan(body, state, jax.random.split(key, 7))

    obs, (final, (o, r, d, t)) = run(keys, jax.random.key(1))
    assert obs.shape == (4, 4, 4, 8) and o.shape == (7, 4, 4, 4, 8)
    assert r.shape == d.shape == (7, 4) and np.isfinite(r).all()
    t, d = np.asarray(t), np.asarray(d)
    assert (t <= 3).all() and d[t == 3].all()  # truncation at max_steps ...
    assert (np.asarray(final.t)[d[-1]] == 0).all()  # ... and an ended episode was replaced by a fresh one


def test_goal_task():
    task = ReachGoal(goal=(0.5, 0.5), radius=0.1)
    pos = jnp.zeros((6, 2)).at[0].set(jnp.array([0.55, 0.5]))
    r = Readout(present=jnp.ones(6), pos=pos, vel=jnp.zeros((6, 2)))
    assert np.isclose(task.reward(r), -0.05) and bool(task.terminal(r))
    assert not bool(task.terminal(r._replace(pos=pos.at[0].set(jnp.array([0.9, 0.9])))))
    with pytest.raises(ValueError, match="inside the box"):
        ReachGoal(goal=(1.5, 0.5))
