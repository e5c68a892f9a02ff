"""Input validation for the dynamics model's public calls: clear errors that name the fix.

Shape checks always run (shapes are static under jit); value checks (finite actions) run only on concrete arrays,
so the same calls work inside jax.jit.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def check_latents(latents, latent_shape: tuple[int, int, int], *, frames: bool = True) -> jax.Array:
    """(B, T, g, g, D) when frames else (B, g, g, D); floating -> float32."""
    z = jnp.asarray(latents)
    want = ("B", "T") if frames else ("B",)
    if z.ndim != len(want) + 3 or tuple(z.shape[-3:]) != tuple(latent_shape):
        raise ValueError(
            f"latents must be ({', '.join(want + tuple(map(str, latent_shape)))}) for this dynamics model, got "
            f"{z.shape}; pass the tokenizer's latents (DynamicsConfig grid/latent_dim must match the tokenizer)"
        )
    if not jnp.issubdtype(z.dtype, jnp.floating):
        raise ValueError(f"latents must be floating point, got {z.dtype}")
    return z.astype(jnp.float32)


def check_actions(actions, lead: tuple[int, ...], action_dim: int) -> jax.Array | None:
    """actions (*lead, A) -> float32, or None when absent (None, or A = 0 as passive worlds give)."""
    if actions is None:
        return None
    a = jnp.asarray(actions)
    if a.ndim == len(lead) + 1 and tuple(a.shape[:-1]) == tuple(lead) and a.shape[-1] == 0:
        return None  # a passive world's (B, T, 0) actions: same as no actions
    if tuple(a.shape) != tuple(lead) + (action_dim,):
        raise ValueError(
            f"actions must have shape {tuple(lead) + (action_dim,)} (one {action_dim}-vector per frame; "
            f"DynamicsConfig.action_dim={action_dim}), got {a.shape}"
        )
    if not (jnp.issubdtype(a.dtype, jnp.floating) or jnp.issubdtype(a.dtype, jnp.integer)):
        raise ValueError(f"actions must be numeric, got {a.dtype}")
    a = a.astype(jnp.float32)
    if is_concrete(a) and not bool(np.isfinite(np.asarray(a)).all()):
        raise ValueError("actions contain NaN or inf: pass finite actions (use zeros for 'no action')")
    return a


def check_text_arrays(ids, mask, batch: int, max_bytes: int):
    ids, mask = jnp.asarray(ids), jnp.asarray(mask)
    if ids.ndim != 2 or ids.shape != mask.shape or ids.shape[1] != max_bytes or ids.shape[0] not in (1, batch):
        raise ValueError(
            f"text arrays must be (bytes, mask) of shape ({batch}, {max_bytes}), got {ids.shape} and {mask.shape}; "
            "make them with worldsim.dynamics.encode_prompts(prompts, cfg.max_text_bytes)"
        )
    if not jnp.issubdtype(ids.dtype, jnp.integer):
        raise ValueError(f"text bytes must be integers in [0, 255], got {ids.dtype}")
    if is_concrete(ids) and ids.size and (int(ids.min()) < 0 or int(ids.max()) > 255):
        raise ValueError("text bytes must lie in [0, 255]: make them with encode_prompts")
    return ids.astype(jnp.int32), mask.astype(bool)


def check_text_emb(text_emb, batch: int, d_model: int) -> jax.Array:
    e = jnp.asarray(text_emb)
    if e.ndim != 2 or e.shape[1] != d_model or e.shape[0] not in (1, batch):
        raise ValueError(
            f"text_emb must be ({batch}, {d_model}) (one d_model vector per example), got {e.shape}; "
            "make it with model.encode_text(prompts)"
        )
    if not jnp.issubdtype(e.dtype, jnp.floating):
        raise ValueError(f"text_emb must be floating point, got {e.dtype}")
    e = e.astype(jnp.float32)
    if is_concrete(e) and not bool(np.isfinite(np.asarray(e)).all()):
        raise ValueError("text_emb contains NaN or inf")
    return e
