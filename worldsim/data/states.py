"""World ball states as training targets: the worlds' ball slots regrouped by colour.

Targets are indexed by colour, not by the world's ball slot: colour is what the pixels (and so the latents) show,
and the worlds give every ball a distinct colour, so the colour slot is a well-defined name for a ball.
"""

from __future__ import annotations

import jax.numpy as jnp


def states_by_colour(pos, vel, colour, present, num_colours: int = 6):
    """World ball slots (..., K) -> colour slots (..., C): (pos (..., C, 2), vel (..., C, 2), present (..., C))."""
    onehot = (colour[..., :, None] == jnp.arange(num_colours)) & present[..., :, None]  # (..., K, C)
    w = onehot.astype(pos.dtype)
    return (
        jnp.einsum("...kc,...kd->...cd", w, pos),
        jnp.einsum("...kc,...kd->...cd", w, vel),
        onehot.any(axis=-2),
    )
