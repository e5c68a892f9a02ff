"""Shared by the simulator, env and agent tests: one tiny random model per process, and small inputs for it."""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from worldsim.sim import WorldModel


@functools.lru_cache(maxsize=None)
def tiny_model(seed: int = 0) -> WorldModel:
    """Cached: the compiled core is shared across models of one config, and building one takes ~0.5 s."""
    return WorldModel.random(seed=seed)


def frames(k: int, seed: int = 0, resolution: int = 32) -> np.ndarray:
    """uint8 (k, R, R, 3) noise frames: enough for the tokenizer, which only needs the right shape and dtype."""
    return np.random.default_rng(seed).integers(0, 256, (k, resolution, resolution, 3), dtype=np.uint8)


def leaves_equal(a, b) -> bool:
    """Bit-identical pytrees (same structure, shapes, dtypes, values)."""
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    return jax.tree.structure(a) == jax.tree.structure(b) and all(
        x.dtype == y.dtype and np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(la, lb))


def max_diff(a, b) -> float:
    """Largest absolute difference over the float leaves of two pytrees of one structure."""
    assert jax.tree.structure(a) == jax.tree.structure(b)
    return max((float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64))))
                for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)) if np.issubdtype(x.dtype, np.floating)),
               default=0.0)


def always(readout):
    """A terminal_fn that ends every episode at its first step. Module level: jit caches on its identity."""
    return jnp.array(True)
