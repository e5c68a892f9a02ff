"""Latent grid <-> dynamics tokens: `group x group` latent cells become one token (exact inverse reshapes)."""

from __future__ import annotations

import math

import jax


def to_tokens(z: jax.Array, group: int) -> jax.Array:
    """(..., g, g, D) -> (..., N, group*group*D), N = (g/group)^2 in row-major order of token rows/columns."""
    *lead, g, g2, d = z.shape
    if g != g2 or g % group:
        raise ValueError(f"latent grid must be square with side divisible by group={group}, got {(g, g2)}")
    s = g // group
    z = z.reshape(*lead, s, group, s, group, d)
    z = jax.numpy.moveaxis(z, -4, -3)  # (..., s, s, group, group, D): a token's cells sit together
    return z.reshape(*lead, s * s, group * group * d)


def from_tokens(tokens: jax.Array, group: int) -> jax.Array:
    """(..., N, group*group*D) -> (..., g, g, D); the exact inverse of to_tokens."""
    *lead, n, td = tokens.shape
    s = math.isqrt(n)
    if s * s != n or td % (group * group):
        raise ValueError(f"tokens (..., N, C) need square N and C divisible by group^2={group * group}, got {(n, td)}")
    d = td // (group * group)
    z = tokens.reshape(*lead, s, s, group, group, d)
    z = jax.numpy.moveaxis(z, -3, -4)  # (..., s, group, s, group, D)
    return z.reshape(*lead, s * group, s * group, d)
