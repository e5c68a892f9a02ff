"""The fixed-capacity temporal KV cache and the window rule it shares with the teacher-forced forward.

Sequence positions along time: p = 0 is the prompt frame, p = t + 1 is latent frame z_t. A query at p sees
  * the prompt frame (p = 0), always: an attention "sink" that holds the text/conditioning;
  * latent frames q with p - W < q <= p: the last W frames, itself included.
The cache stores exactly that: slot 0 = the prompt sink, slots 1..W = a ring buffer where latent frame t lives in
slot 1 + t % W. Every array has a fixed shape, so a step at t = 10_000 costs what a step at t = 1 costs.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


class Cache(NamedTuple):
    """Per-layer temporal keys/values for every token position. A pytree of fixed-shape arrays.

    Keys of latent frames are stored already rotated (RoPE at their absolute frame index); the sink key is stored
    unrotated, because the prompt is scored without a position (see DynamicsModel).
    """

    k: jax.Array  # (L, B, N, 1 + W, H, hd) float32
    v: jax.Array  # (L, B, N, 1 + W, H, hd) float32
    valid: jax.Array  # (1 + W,) bool: which slots hold a frame (slot 0 once prefilled)
    t: jax.Array  # () int32: latent frames written so far (the next latent frame's index)
    last: jax.Array  # (B, g, g, D) float32: the last latent frame fed (DynamicsConfig.frame_delta reads its change)


def empty_cache(layers: int, batch: int, tokens: int, window: int, heads: int, head_dim: int,
                latent_shape: tuple[int, int, int]) -> Cache:
    shape = (layers, batch, tokens, 1 + window, heads, head_dim)
    return Cache(
        k=jnp.zeros(shape, jnp.float32),
        v=jnp.zeros(shape, jnp.float32),
        valid=jnp.zeros((1 + window,), bool),
        t=jnp.zeros((), jnp.int32),
        last=jnp.zeros((batch,) + tuple(latent_shape), jnp.float32),
    )


def window_mask(num_positions: int, window: int) -> jax.Array:
    """(P, P) bool: query position p may attend to key position q (0 = prompt sink) — the cache's rule."""
    p = jnp.arange(num_positions)[:, None]
    q = jnp.arange(num_positions)[None, :]
    return (q == 0) | ((q <= p) & (p - q < window))


def ring_slot(t: jax.Array, window: int) -> jax.Array:
    """Cache slot of latent frame t."""
    return 1 + t % window
