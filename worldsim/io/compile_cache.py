"""JAX's persistent compilation cache, on by default in a user cache folder, so a second run of the same program
(a `Simulator` step, `worldsim demo`, `worldsim play`) loads its compiled code instead of compiling it again.

    WORLDSIM_COMPILE_CACHE unset   ->  $XDG_CACHE_HOME/worldsim/jax (else ~/.cache/worldsim/jax)
    WORLDSIM_COMPILE_CACHE=DIR     ->  DIR
    WORLDSIM_COMPILE_CACHE=0       ->  off (also: off, false, no)

A cache the user set up for JAX themselves (JAX_COMPILATION_CACHE_DIR, or jax.config before importing worldsim)
is left as it is. A folder that cannot be created (a read-only home) turns the cache off, with no error: it only
ever saves time.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

ENV = "WORLDSIM_COMPILE_CACHE"
OFF = {"0", "off", "false", "no"}
MIN_COMPILE_S = 0.1  # programs that compile faster than this are not worth a file each
MAX_BYTES = 1 << 30  # least recently used entries go first past 1 GiB


def default_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "worldsim" / "jax"


def enable() -> Path | None:
    """Turn the cache on (see the module docstring); returns its folder, or None when off or set up by the user."""
    choice = os.environ.get(ENV, "").strip()
    if choice.lower() in OFF:
        return None
    if os.environ.get("JAX_COMPILATION_CACHE_DIR") or jax.config.jax_compilation_cache_dir:
        return None  # the user's own JAX cache settings win
    folder = Path(choice).expanduser() if choice else default_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not os.access(folder, os.W_OK):
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_S)
    jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)
    return folder
