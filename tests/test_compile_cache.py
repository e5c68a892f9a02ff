"""The persistent compilation cache: on by default in the user's cache folder, off on request, and a user's own
JAX cache setting wins. Each case runs in a fresh interpreter (the setting is read once, at `import worldsim`)."""

import os
import subprocess
import sys

PROBE = "import jax, worldsim; print('DIR', jax.config.jax_compilation_cache_dir)"


def _cache_dir(tmp_path, **env) -> str:
    full = {k: v for k, v in os.environ.items() if k not in ("WORLDSIM_COMPILE_CACHE", "JAX_COMPILATION_CACHE_DIR")}
    full.update(XDG_CACHE_HOME=str(tmp_path / "xdg"), **env)
    res = subprocess.run([sys.executable, "-c", PROBE], env=full, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout.split("DIR ")[-1].strip()


def test_on_by_default_in_the_user_cache_folder(tmp_path):
    assert _cache_dir(tmp_path) == str(tmp_path / "xdg" / "worldsim" / "jax")
    assert (tmp_path / "xdg" / "worldsim" / "jax").is_dir()


def test_off_and_elsewhere_on_request(tmp_path):
    assert _cache_dir(tmp_path, WORLDSIM_COMPILE_CACHE="0") == "None"
    assert _cache_dir(tmp_path, WORLDSIM_COMPILE_CACHE=str(tmp_path / "mine")) == str(tmp_path / "mine")


def test_the_users_own_jax_setting_wins(tmp_path):
    assert _cache_dir(tmp_path, JAX_COMPILATION_CACHE_DIR=str(tmp_path / "theirs")) == str(tmp_path / "theirs")


def test_an_unwritable_folder_turns_it_off_without_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert _cache_dir(tmp_path, WORLDSIM_COMPILE_CACHE=str(blocker / "jax")) == "None"


def test_a_second_process_loads_what_the_first_compiled(tmp_path):
    """The point of it all: the compiled program lands in the folder and a later process finds it there."""
    code = ("import jax, jax.numpy as jnp, worldsim\n"
            "hits = []\n"
            "jax.monitoring.register_event_listener(lambda event, **kw: hits.append(event))\n"
            "f = jax.jit(lambda x: jnp.tanh(x @ x.T).sum() + sum(jnp.sin(x * i).sum() for i in range(300)))\n"
            "f(jnp.ones((64, 64))).block_until_ready()\n"
            "print('HITS', hits.count('/jax/compilation_cache/cache_hits'))")
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    env["WORLDSIM_COMPILE_CACHE"] = str(tmp_path / "cache")
    hits = []
    for _ in range(2):
        res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr[-2000:]
        hits.append(int(res.stdout.split("HITS")[-1]))
    assert hits[0] == 0 and hits[1] >= 1, f"cache hits in the first / second process: {hits}"
