"""Env-steps/s of the RL paths in one run (issue 22, point 2): the functional env's step_env (one env, jitted),
jit(vmap(step)) (auto-reset) at B = 8 and 64, the old auto-reset that reset every env on every step (B = 8, for
comparison), a pool of 8 prepared starts per env cycled by episode count (the alternative to envs.autoreset), and
the registered Gymnasium env; on the tiny random model and the shipped default.

    python experiments/bench/functional_env.py --out experiments/bench/functional_env.json [--models tiny,default]

Batched episodes are staggered (each starts at a random step of its episode, as in a long training run), so about
B / max_steps envs end per step and the auto-reset cost is in the figure. Default env settings (decoded frames,
ReachGoal, 100 steps an episode, the model's sampling).
"""

from __future__ import annotations

import argparse
import json
import time

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

import worldsim  # noqa: F401  (registers the env)
from worldsim.envs import ENV_ID, FunctionalEnv, env_params
from worldsim.sim import WorldModel, load


def timed_loop(fn, n: int) -> float:
    """Seconds for n calls of fn() after one warm-up call (fn blocks on its own outputs)."""
    fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return time.perf_counter() - t0


def old_step(env: FunctionalEnv):
    """The auto-reset before issue 22: a reset for every env on every step, then a select."""
    def step(key, state, action, params):
        k_step, k_reset = jax.random.split(key)
        obs, new, reward, terminated, truncated, info = env.step_env(k_step, state, action, params)
        obs_re, fresh = env.reset_env(k_reset, params)
        done = terminated | truncated
        pick = lambda a, b: jax.tree.map(lambda x, y: jnp.where(done, x, y), a, b)  # noqa: E731
        return pick(obs_re, obs), pick(fresh, new), reward, done, info
    return step


POOL = 8  # prepared starts per env in the pool alternative


def pool_env(env: FunctionalEnv):
    """The alternative measured against: each env holds POOL starts (obs, state) prepared at reset and cycles
    through them by episode count; a step selects the next one for a done env (no reset)."""
    def reset(key, params):
        obs, state = jax.vmap(env.reset_env, in_axes=(0, None))(jax.random.split(key, POOL), params)
        return (jax.tree.map(lambda x: x[0], obs), (jax.tree.map(lambda x: x[0], state), (obs, state), 1))

    def step(key, carry, action, params):
        state, pool, n = carry
        obs, new, reward, terminated, truncated, info = env.step_env(key, state, action, params)
        done = terminated | truncated
        nxt = jax.tree.map(lambda x: jax.lax.dynamic_index_in_dim(x, n % POOL, keepdims=False), pool)
        obs, new = jax.tree.map(lambda x, y: jnp.where(done, x, y), nxt, (obs, new))
        return obs, (new, pool, n + done.astype(jnp.int32)), reward, done, info
    return reset, step


def functional_sps(env, params, batch: int, steps: int, step=None, reset=None) -> dict:
    step = jax.jit(jax.vmap(step or env.step, in_axes=(0, 0, 0, None)))
    key = jax.random.key(0)
    t0 = time.perf_counter()
    _, state = jax.jit(jax.vmap(reset or env.reset, in_axes=(0, None)))(jax.random.split(key, batch), params)
    jax.block_until_ready(state)
    reset_s = time.perf_counter() - t0
    t = jax.random.randint(key, (batch,), 0, env.max_steps)
    if reset is None:
        state = state._replace(t=t.astype(state.t.dtype))
    else:
        state = (state[0]._replace(t=t.astype(state[0].t.dtype)),) + state[1:]
    carry = {"state": state, "key": jax.random.key(1), "done": 0}

    def one():
        carry["key"], k_a, k_s = jax.random.split(carry["key"], 3)
        acts = jax.random.uniform(k_a, (batch, params.model.action_dim), minval=-1, maxval=1)
        obs, carry["state"], _, done, _ = step(jax.random.split(k_s, batch), carry["state"], acts, params)
        jax.block_until_ready(obs)
        carry["done"] += int(np.sum(done))

    t0 = time.perf_counter()
    one()
    compile_s = time.perf_counter() - t0
    carry["done"] = 0
    secs = timed_loop(one, steps)
    return {"batch": batch, "steps": steps, "seconds": secs, "env_steps_per_s": batch * steps / secs,
            "episodes_ended": carry["done"], "first_step_call_s": compile_s, "first_reset_call_s": reset_s}


def step_env_sps(env, params, steps: int) -> dict:
    step = jax.jit(env.step_env)
    _, state = jax.jit(env.reset)(jax.random.key(0), params)
    carry = {"state": state, "key": jax.random.key(1)}

    def one():
        carry["key"], k_a, k_s = jax.random.split(carry["key"], 3)
        a = jax.random.uniform(k_a, (params.model.action_dim,), minval=-1, maxval=1)
        obs, s, *_ = step(k_s, carry["state"], a, params)
        carry["state"] = s._replace(t=s.t * 0, done=s.done & False)  # keep stepping one episode: no reset here
        jax.block_until_ready(obs)

    secs = timed_loop(one, steps)
    return {"steps": steps, "seconds": secs, "env_steps_per_s": steps / secs}


def gym_sps(model, steps: int) -> dict:
    env = gym.make(ENV_ID, model=model)
    env.reset(seed=0)
    env.action_space.seed(0)
    ends = {"n": 0}

    def one():
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        if term or trunc:
            ends["n"] += 1
            env.reset()

    secs = timed_loop(one, steps)
    return {"steps": steps, "seconds": secs, "env_steps_per_s": steps / secs, "episodes_ended": ends["n"]}


def measure(name: str, model: WorldModel, steps: dict) -> dict:
    env = FunctionalEnv()
    params = env_params(model)
    out = {"model": name}
    out["step_env"] = step_env_sps(env, params, steps["single"])
    print(name, "step_env", out["step_env"], flush=True)
    out["gym"] = gym_sps(model, steps["single"])
    print(name, "gym", out["gym"], flush=True)
    for b in (8, 64):
        out[f"vmap_step_B{b}"] = functional_sps(env, params, b, steps[b])
        print(name, b, out[f"vmap_step_B{b}"], flush=True)
    p_reset, p_step = pool_env(env)
    for b in (8, 64):
        out[f"pool_step_B{b}"] = functional_sps(env, params, b, steps[b], step=p_step, reset=p_reset)
        print(name, "pool", b, out[f"pool_step_B{b}"], flush=True)
    out["old_vmap_step_B8"] = functional_sps(env, params, 8, steps["old"], step=old_step(env))
    print(name, "old B8", out["old_vmap_step_B8"], flush=True)
    single = out["step_env"]["env_steps_per_s"]
    out["per_env_cost_vs_step_env"] = {f"B{b}": single / out[f"vmap_step_B{b}"]["env_steps_per_s"] for b in (8, 64)}
    out["B64_vs_gym"] = out["vmap_step_B64"]["env_steps_per_s"] / out["gym"]["env_steps_per_s"]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="experiments/bench/functional_env.json")
    ap.add_argument("--models", default="tiny,default")
    args = ap.parse_args()
    plan = {"tiny": (lambda: WorldModel.random(seed=0), {"single": 200, 8: 100, 64: 40, "old": 20}),
            "default": (lambda: load("default"), {"single": 60, 8: 30, 64: 12, "old": 4})}
    results = {"jax": jax.__version__, "backend": jax.default_backend(), "runs": []}
    for name in args.models.split(","):
        make, steps = plan[name]
        results["runs"].append(measure(name, make(), steps))
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
