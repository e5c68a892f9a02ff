"""First-step latency: a fresh Python process that loads a model, resets and takes one step, timed from start to
the first frame, cold (nothing cached) and warm (JAX's persistent compilation cache filled by an earlier run)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

_SCRIPT = """
import time
t0 = time.perf_counter()
import jax, numpy as np, worldsim as ws
model = ws.load({model!r})
sim = ws.Simulator(model)
state = sim.reset(jax.random.key(0), prompt="One bouncing ball: a large red ball in the center moving right.")
state, out = sim.step(state, np.zeros(model.action_dim, np.float32), jax.random.key(1))
jax.block_until_ready(out.frames)
print("SECONDS", time.perf_counter() - t0)
"""


def _run(model: str, cache_dir: str | None) -> float:
    env = dict(os.environ)
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    if cache_dir is not None:
        env["JAX_COMPILATION_CACHE_DIR"] = cache_dir
        env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"  # cache every program, not only slow ones
        env["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
    res = subprocess.run([sys.executable, "-c", _SCRIPT.format(model=model)], capture_output=True, text=True,
                         env=env, timeout=900)
    if res.returncode != 0:
        raise RuntimeError(f"the latency probe failed:\n{res.stderr[-2000:]}")
    return float(res.stdout.split("SECONDS")[-1])


def first_step_latency(model: str = "default") -> dict:
    """Seconds from process start to the first stepped frame: cold, then warm from the persistent cache."""
    with tempfile.TemporaryDirectory() as cache:
        cold = _run(model, None)
        _run(model, cache)  # fills the cache
        warm = _run(model, cache)
    return {"cold_s": cold, "warm_s": warm, "ratio": cold / warm}
