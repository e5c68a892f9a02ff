"""Start-up times a user waits through, each in a fresh Python process, timed from its start:

- first frame: load a model, reset from a prompt and take one step (the README's first snippet);
- play: `worldsim play` until its page answers an HTTP request;
- demo: the whole `worldsim demo`.

Each is timed cold (an empty compilation cache) and warm (JAX's persistent compilation cache filled by the cold
run: what every run after the first gets, worldsim.io.compile_cache). Warm times are medians of `reps` runs.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable

_FIRST_FRAME = """
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


def _env(cache_dir: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    env["WORLDSIM_COMPILE_CACHE"] = cache_dir  # the cache every user gets, in a folder of the benchmark's own
    return env


def _first_frame(model: str, cache_dir: str) -> float:
    res = subprocess.run([sys.executable, "-c", _FIRST_FRAME.format(model=model)], capture_output=True, text=True,
                         env=_env(cache_dir), timeout=900)
    if res.returncode != 0:
        raise RuntimeError(f"the first-frame probe failed:\n{res.stderr[-2000:]}")
    return float(res.stdout.split("SECONDS")[-1])


def _play(model: str, cache_dir: str) -> float:
    """Seconds from `worldsim play` starting to its page answering a GET."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "worldsim.cli", "play", "--model", model, "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(cache_dir))
    try:
        url, seen = None, []
        for line in proc.stdout:  # the server prints "open http://HOST:PORT/ in a browser" once it listens
            seen.append(line)
            if "open http" in line:
                url = line.split("open ", 1)[1].split()[0]
                break
        if url is None:
            raise RuntimeError("worldsim play ended before it served:\n" + "".join(seen)[-2000:])
        with urllib.request.urlopen(url, timeout=60) as page:
            page.read()
        return time.perf_counter() - t0
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _demo(model: str, cache_dir: str) -> float:
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        code = f"from worldsim.demo import run_demo; run_demo({out!r}, model={model!r}, log=lambda s: None)"
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(cache_dir),
                             timeout=1800)
        if res.returncode != 0:
            raise RuntimeError(f"the demo failed:\n{res.stderr[-2000:]}")
        return time.perf_counter() - t0


PROBES: dict[str, Callable[[str, str], float]] = {"first_frame": _first_frame, "play": _play, "demo": _demo}


def startup(model: str = "default", reps: int = 3, which=tuple(PROBES), log: Callable[[str], None] = print) -> dict:
    """{probe: {"cold_s", "warm_s" (median of reps), "warm_runs_s"}} for each probe in `which`; each probe starts
    from its own empty cache."""
    out = {}
    for name in which:
        with tempfile.TemporaryDirectory() as cache:
            log(f"startup: {name}, cold ...")
            cold = PROBES[name](model, cache)
            warm = []
            for i in range(reps):
                log(f"startup: {name}, warm {i + 1}/{reps} ...")
                warm.append(PROBES[name](model, cache))
        out[name] = {"cold_s": cold, "warm_s": statistics.median(warm), "warm_runs_s": warm}
        log(f"startup: {name}: cold {cold:.1f} s, warm {statistics.median(warm):.1f} s")
    return out

