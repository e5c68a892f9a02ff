"""The functional env's auto-reset (envs.autoreset): a done env gets exactly reset_env's start from its reset key,
the others exactly step_env's step, with or without vmap; the reset runs only when some env is done; the README's
pure-JAX training loop runs (on the tiny random model)."""

import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from simtools import max_diff, tiny_model

import worldsim
from worldsim.envs import FunctionalEnv, autoreset, env_params

README = Path(__file__).resolve().parent.parent / "README.md"
B = 4  # capacity of the "few done" case: max(1, B // FEW) = 1, so 1 done and 2 done take different paths
ENV = FunctionalEnv(max_steps=3, decode=False, steps=1)  # latents, one Euler step: a small program to compile
take = lambda tree, i: jax.tree.map(lambda x: x[i], tree)  # noqa: E731


@pytest.fixture(scope="module")
def setup():
    params = env_params(tiny_model())
    _, state = jax.jit(jax.vmap(ENV.reset, in_axes=(0, None)))(jax.random.split(jax.random.key(0), B), params)
    keys = jax.random.split(jax.random.key(5), B)
    halves = jax.vmap(jax.random.split)(keys)  # step's own split: (k_step, k_reset) per env
    acts = jnp.zeros((B, 2))
    step_env = jax.jit(jax.vmap(ENV.step_env, in_axes=(0, 0, 0, None)))
    reset_env = jax.jit(jax.vmap(ENV.reset_env, in_axes=(0, None)))
    step = jax.jit(jax.vmap(ENV.step, in_axes=(0, 0, 0, None)))  # compiled once for all the cases
    return params, state, keys, acts, halves, step_env, reset_env, step, jax.jit(ENV.step)


@pytest.mark.parametrize("ending", [(), (1,), (0, 3), (0, 1, 2, 3)])  # none, few, every (and all) envs done
def test_step_resets_exactly_the_done_envs(setup, ending):
    params, state, keys, acts, halves, step_env, reset_env, step, step_one = setup
    state = state._replace(t=state.t.at[jnp.array(ending, int)].set(ENV.max_steps - 1))  # these truncate now
    obs, new, reward, done, info = step(keys, state, acts, params)
    assert np.flatnonzero(done).tolist() == list(ending)
    s_obs, stepped, s_reward, *_ = step_env(halves[:, 0], state, acts, params)
    r_obs, fresh = reset_env(halves[:, 1], params)
    assert np.array_equal(reward, s_reward)
    for i in range(B):
        want = (take(r_obs, i), take(fresh, i)) if i in ending else (take(s_obs, i), take(stepped, i))
        assert max_diff((take(obs, i), take(new, i)), want) < 1e-5, i  # separately compiled: rounding may differ
        assert int(new.t[i]) == (0 if i in ending else int(state.t[i]) + 1)
    # One env, no vmap: a real lax.cond, the same outcome.
    one = step_one(keys[0], take(state, 0), acts[0], params)
    assert max_diff(one[:2], (take(obs, 0), take(new, 0))) < 1e-5


def test_the_reset_runs_only_when_an_env_is_done():
    calls = []

    def fresh(key, params):  # a stand-in reset that records each batch it is run on
        jax.debug.callback(lambda k: calls.append(np.shape(k)), jax.random.key_data(key))
        return jax.random.uniform(key, (3,)) + params

    pick = jax.jit(jax.vmap(lambda d, k, c: autoreset.where_done(fresh, d, k, 10.0, c)))
    keys, cur = jax.random.split(jax.random.key(0), 32), jnp.zeros((32, 3))
    out = pick(jnp.zeros(32, bool), keys, cur)
    assert calls == [] and np.array_equal(out, cur)
    done = jnp.zeros(32, bool).at[7].set(True)
    out = pick(done, keys, cur)
    assert len(calls) == 32 // autoreset.FEW  # the few-done path: resets for 2 envs (1 done, 1 padding), not 32
    assert np.allclose(out[7], fresh(keys[7], 10.0)) and np.array_equal(np.delete(out, 7, 0), np.zeros((31, 3)))


def test_readme_pure_jax_training_loop_runs(monkeypatch):
    """The README's pure-JAX example, exactly; only the shipped model is swapped for the tiny random one."""
    section = README.read_text().split("## Agents and reinforcement learning", 1)[1].split("\n## ", 1)[0]
    code = re.findall(r"```python\n(.*?)```", section, re.S)[1]
    assert "jax.lax.scan" in code and "jax.vmap(env.step" in code
    monkeypatch.setattr(worldsim, "load", lambda name="default": tiny_model())
    namespace = {}
    exec(compile(code, str(README), "exec"), namespace)
    rewards, dones = namespace["rewards"], namespace["dones"]
    assert rewards.shape == dones.shape == (100, 64) and np.isfinite(rewards).all()
    assert dones.any(axis=0).all()  # 100-step episodes: every env's first episode ended in the 100 steps
