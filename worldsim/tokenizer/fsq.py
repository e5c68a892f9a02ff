"""Finite scalar quantization (Mentzer et al. 2023, arXiv:2309.15505): round each bounded latent dim to L levels."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def fsq(z: jax.Array, levels: tuple[int, ...]) -> jax.Array:
    """Quantize (..., D) with D = len(levels); values land on a grid in [-1, 1]; straight-through gradients."""
    lv = jnp.asarray(levels, jnp.float32)
    half = (lv - 1.0) / 2.0
    offset = jnp.where(jnp.asarray(levels) % 2 == 0, 0.5, 0.0)
    shift = jnp.arctanh(offset / half)
    bounded = jnp.tanh(z + shift) * half - offset
    rounded = bounded + jax.lax.stop_gradient(jnp.round(bounded) - bounded)
    return rounded / jnp.floor(lv / 2.0)


def codebook_size(levels: tuple[int, ...]) -> int:
    return int(np.prod(levels))
