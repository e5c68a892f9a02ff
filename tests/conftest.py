"""Suite-wide guard against running out of memory maps.

XLA's CPU backend keeps every compiled executable of a live function, each in several memory mappings (about 6
for a small one). The whole suite compiles enough of them in one process to reach Linux's vm.max_map_count
(65,530 by default). Without this guard the count stood at 57,883 after test_viz, and the next compiles
raised a C++ exception whose unwinding crashed the process (a segfault deep in the suite, not a test failure;
that the compile failed for want of mappings is inferred from the count). Dropping JAX's caches when the count
passes half the limit frees those executables; only functions used again recompile.

The check runs between test modules, never inside one: a module then runs as it would alone (its first tests
compile, the later ones find their code compiled), which its timing-sensitive tests (the play server's idle
timeout) rely on. The most one module added in a full run was 8,892 (test_worlds_api), so half the
limit leaves room.
"""

import os

# Tests compile in a clean slate: the user's persistent compilation cache (worldsim.io.compile_cache, on by
# default) neither serves them nor grows from them; tests/test_compile_cache.py checks the default itself.
# Set before any test imports worldsim; subprocesses the tests start inherit it.
os.environ.setdefault("WORLDSIM_COMPILE_CACHE", "0")

import jax  # noqa: E402
import pytest  # noqa: E402


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read())
    except (OSError, ValueError):
        return None  # not Linux: no such limit to watch


def map_count() -> int:
    try:
        with open("/proc/self/maps") as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


MAP_LIMIT = _read_int("/proc/sys/vm/max_map_count")


@pytest.fixture(autouse=True, scope="module")
def _bounded_memory_maps():
    yield
    if MAP_LIMIT and map_count() > MAP_LIMIT // 2:
        jax.clear_caches()
