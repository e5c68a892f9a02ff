"""Where a step of the vector env (worldsim.envs.WorldSimVectorEnv) goes, at B = 1, 4 and 16 envs (issue 22,
point 2: it stopped gaining past 4 envs on the default model).

    python experiments/bench/vector_env_profile.py [--models tiny,default] [--batches 1,4,16]  # writes the .json beside it

For each B, each part of the env's step jitted alone and vmapped over the B envs like the env's own program
(median wall time of a few dozen calls after warm-up, and XLA's FLOP count of that program): the dynamics
transformer's cached step, the flow head's sample of the next latent, the reprojection (decode the sample, decode
the previous frame, encode both; the default model's sampling), the peek (a second dynamics pass at the new latent,
for the readout), readout + reward, and the observation's decode; "compiled_total" is all of them in one program.
Then `envs.step(actions)` itself, the env's own compiled programs alone ("env_programs": compiled.step without
decoding, then compiled.render, called as the env calls them), and a step where one env's episode ended the step
before, so the batch is reset too (NEXT_STEP autoreset); these three are timed in turn, from the same states each
call. "host" = env step - env programs: Python, argument checks, the step key, transfers, the un-jitted outcome.
The f32 matmul rate, measured in the same process (worldsim.bench.timing.matmul_rate), is the practical peak.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

from worldsim.bench.timing import flops, matmul_rate
from worldsim.envs import FunctionalEnv, WorldSimVectorEnv, adapter, env_params
from worldsim.envs.tasks import ReachGoal
from worldsim.sim import WorldModel, compiled, core, load


def median_time(fn, *args, reps: int) -> float:
    """Median wall seconds of fn(*args) over reps calls (outputs blocked on), after two warm-up calls: the median,
    as other jobs share these cores."""
    for _ in range(2):
        jax.block_until_ready(fn(*args))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def interleaved(calls: dict, reps: int) -> dict:
    """Median seconds of each call, the calls taken in turn (so load from other jobs falls on all of them)."""
    for fn in calls.values():
        for _ in range(2):
            jax.block_until_ready(fn())
    times = {k: [] for k in calls}
    for _ in range(reps):
        for k, fn in calls.items():
            t0 = time.perf_counter()
            jax.block_until_ready(fn())
            times[k].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) for k, v in times.items()}


def parts(model: WorldModel, env: FunctionalEnv):
    """The env step's pieces, one env each (vmapped by the caller): name -> (fn(state, action, key), uses)."""
    dyn, sp, task = model.dynamics, env.sampling(model), ReachGoal()

    def transformer(s, a, key):
        return dyn.step(s.cache, s.latent[None], a[None])

    def flow(s, a, key):
        h, _ = dyn.step(s.cache, s.latent[None], a[None])  # recomputed: its time is taken off below
        return dyn.sample_frame(h, core.step_key(key, s.t, s.branch), env.steps, sp["temperature"])

    def reproject(s, a, key):  # a sample unlike the previous latent: XLA would merge two decodes of one latent
        return core._reproject(model, s.latent, -s.latent[None])

    def peek(s, a, key):
        return core._peek(model, s.cache, s.latent[None])

    def readout_reward(s, a, key):
        r = core.readout(model, s)
        return task.reward(r), task.terminal(r)

    def decode(s, a, key):
        return core.render(model, s)

    def whole(s, a, key):  # the vector env's step in one program: the step (decode=False), then the render
        new, out = core.step(model, s, a, key, decode=False, steps=env.steps, **sp)
        return core.render(model, new), new, out.readout  # the new state too: its KV cache is written every step

    return {"transformer": transformer, "flow_with_transformer": flow, "reproject": reproject, "peek": peek,
            "readout_reward": readout_reward, "decode_obs": decode, "compiled_total": whole}


def profile(name: str, model: WorldModel, batches, reps: int) -> dict:
    env = FunctionalEnv()
    params = env_params(model)
    fns = parts(model, env)
    out = {"model": name, "reps": reps, "by_batch": []}
    sp = env.sampling(model)
    for b in batches:
        _, states = adapter.reset(env, params, jax.random.key(0), b)
        acts = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (b, model.action_dim)), jnp.float32)
        key = jax.random.key(1)
        mb = sum(x.nbytes for x in jax.tree.leaves(states)) / b / 2**20
        row = {"B": b, "ms": {}, "gflop": {}, "state_mb_per_env": mb}
        for part, fn in fns.items():
            jitted = jax.jit(jax.vmap(fn, in_axes=(0, 0, None)))
            row["ms"][part] = 1e3 * median_time(jitted, states, acts, key, reps=reps)
            row["gflop"][part] = flops(jitted, states, acts, key) / 1e9
        ms, gf = row["ms"], row["gflop"]
        ms["flow"] = max(ms.pop("flow_with_transformer") - ms["transformer"], 0.0)
        gf["flow"] = gf.pop("flow_with_transformer") - gf["transformer"]
        if not sp["reproject"]:  # not part of this model's step
            ms.pop("reproject"), gf.pop("reproject")
        envs = WorldSimVectorEnv(b, model=model)
        envs.reset(seed=0)
        start, a = envs._states, np.asarray(acts)

        def env_step(reset_one: bool):  # from the same states every call: the same work, no episode ending
            envs._states, envs._reset_next[:] = start, False
            envs._reset_next[0] = reset_one  # as after an episode end: this step resets (NEXT_STEP autoreset)
            return envs.step(a)[0]

        def programs():  # the env step's compiled programs alone, called as the env calls them
            new, _ = compiled.step(model, start, jnp.asarray(a), key, sp["temperature"], rank=1, decode=False,
                                   steps=env.steps, reproject=sp["reproject"])
            return compiled.render(model, new, rank=1)

        calls = {"vector_env_step": lambda: env_step(False), "env_programs": programs,
                 "vector_env_step_with_reset": lambda: env_step(True)}
        ms.update({k: 1e3 * v for k, v in interleaved(calls, reps).items()})
        ms["host"] = ms["vector_env_step"] - ms["env_programs"]
        row["env_steps_per_s"] = b * 1e3 / ms["vector_env_step"]
        row["gflop_per_s_compiled"] = gf["compiled_total"] / ms["compiled_total"] * 1e3
        row["gflop_per_env_step"] = gf["compiled_total"] / b
        out["by_batch"].append(row)
        print(name, json.dumps(row), flush=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="experiments/bench/vector_env_profile.json")
    ap.add_argument("--models", default="tiny,default")
    ap.add_argument("--batches", default="1,4,16")
    args = ap.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    plan = {"tiny": (lambda: WorldModel.random(seed=0), 40), "default": (lambda: load("default"), 12)}
    results = {"jax": jax.__version__, "backend": jax.default_backend(),
               "matmul_gflop_per_s": matmul_rate(2048, reps=3) / 1e9, "runs": []}
    print("f32 matmul GFLOP/s", results["matmul_gflop_per_s"], flush=True)
    for name in args.models.split(","):
        make, reps = plan[name]
        results["runs"].append(profile(name, make(), batches, reps))
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
