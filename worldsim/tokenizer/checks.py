"""Input validation for the tokenizer's public calls: clear errors that name the fix."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np


def check_frames(frames, resolution: int):
    """uint8 (B,T,H,W,3), or float in [0,1] -> float32 in [0,1]."""
    x = jnp.asarray(frames)
    if x.ndim != 5 or x.shape[-1] != 3:
        raise ValueError(
            f"frames must be (B, T, H, W, 3), got shape {x.shape}; add batch/time axes with frames[None] if needed"
        )
    if x.shape[2:4] != (resolution, resolution):
        hint = "" if x.shape[2] % 8 == 0 else " (and sizes must be divisible by the patch size)"
        raise ValueError(
            f"frames are {x.shape[2]}x{x.shape[3]} but this tokenizer takes {resolution}x{resolution}{hint}: "
            f"resize with worldsim.io.read_video(path, resolution={resolution}) or render the world at that resolution"
        )
    if x.dtype == jnp.uint8:
        return x.astype(jnp.float32) / 255.0
    if jnp.issubdtype(x.dtype, jnp.floating):
        lo, hi = float(jnp.min(x)), float(jnp.max(x))
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"float frames must lie in [0, 1], got [{lo:.3g}, {hi:.3g}]: pass uint8 frames or divide by 255"
            )
        return x.astype(jnp.float32)
    raise ValueError(f"frames must be uint8 (or float in [0, 1]), got {x.dtype}")


def check_latents(latents, latent_shape: tuple[int, int, int]):
    z = jnp.asarray(latents)
    if z.ndim != 5 or tuple(z.shape[2:]) != tuple(latent_shape):
        raise ValueError(
            f"latents must be (B, T, {', '.join(map(str, latent_shape))}) for this tokenizer, got {z.shape}; "
            "use latents produced by this tokenizer's encode()"
        )
    if not jnp.issubdtype(z.dtype, jnp.floating):
        raise ValueError(f"latents must be floating point, got {z.dtype}")
    return z.astype(jnp.float32)
