"""JAX's persistent compilation cache, on by default in a user cache folder, so a second run of the same program
(a `Simulator` step, `worldsim demo`, `worldsim play`) loads its compiled code instead of compiling it again.

    WORLDSIM_COMPILE_CACHE unset   ->  $XDG_CACHE_HOME/worldsim/jax (else ~/.cache/worldsim/jax)
    WORLDSIM_COMPILE_CACHE=DIR     ->  DIR
    WORLDSIM_COMPILE_CACHE=0       ->  off (also: off, false, no)

Beside JAX's programs, the folder keeps model structures (structure_cache: what `ws.load` would otherwise rebuild
by tracing a model's constructor) in a `worldsim-structure` subfolder, which JAX's cache leaves alone.

A cache the user set up for JAX themselves (JAX_COMPILATION_CACHE_DIR, or jax.config before importing worldsim)
is left as it is. A folder that cannot be created (a read-only home) turns the cache off, with no error: it only
ever saves time.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
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


def structure_folder() -> Path | None:
    if os.environ.get(ENV, "").strip().lower() in OFF or not jax.config.jax_compilation_cache_dir:
        return None
    return Path(jax.config.jax_compilation_cache_dir) / "worldsim-structure"


@functools.cache
def source_hash() -> str:
    """A hash of worldsim's own code and the library versions: a changed model class never reads an old entry."""
    import flax

    h = hashlib.sha256(f"{jax.__version__} {flax.__version__}".encode())
    root = Path(__file__).resolve().parent.parent
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def read_entry(path: Path):
    """The value pickled at `path` by write_entry, or None when it is missing or unreadable (truncated, from
    another version): entries only ever save time, so the caller rebuilds."""
    try:
        with open(path, "rb") as f:
            return pickle.load(f)  # the user's own cache folder, written by write_entry
    except Exception:  # noqa: BLE001 - any failure to read means: rebuild
        return None


def write_entry(path: Path, value) -> None:
    """Pickle `value` to `path` atomically (a concurrent reader sees the whole entry or none); a failure to write
    is ignored."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps(value))
        os.replace(tmp, path)
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        pass


def structure_cache(key: str | None, build):
    """build(), kept on disk under `key` while the cache is on (key None or cache off: just build())."""
    folder = structure_folder() if key is not None else None
    if folder is None:
        return build()
    path = folder / (hashlib.sha256(f"{source_hash()} {key}".encode()).hexdigest()[:32] + ".pkl")
    value = read_entry(path)
    if value is None:
        value = build()
        write_entry(path, value)
    return value
