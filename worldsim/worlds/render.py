"""Anti-aliased renderer: any BallState (with any leading axes) -> uint8 frames. Pure JAX.

Each pixel's coverage by a ball is the linear ramp clip(r - d + 1/2, 0, 1) (d: distance from the pixel centre to
the ball centre, in pixels): a one-pixel-wide anti-aliased edge whose coverage-weighted centroid is the true centre.
Balls are composited in slot order over a black background; the occluder bar is drawn last, opaque.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from worldsim.worlds.palette import BACKGROUND, COLOURS, OCCLUDER_GREY
from worldsim.worlds.state import BallState


def world_to_pixel(xy, resolution: int):
    """World units -> pixel coordinates (pixel i's centre is i; x = column, y = row)."""
    return xy * resolution - 0.5


def pixel_to_world(px, resolution: int):
    """Pixel coordinates -> world units (inverse of world_to_pixel)."""
    return (px + 0.5) / resolution


def _occluder_coverage(occluder, resolution: int) -> jax.Array:
    """(H, W) fraction of each pixel covered by the axis-aligned bar (exact box-filter coverage)."""
    x0, y0, x1, y1 = (c * resolution for c in occluder)
    i = jnp.arange(resolution, dtype=jnp.float32)
    cx = jnp.clip(jnp.minimum(x1, i + 1) - jnp.maximum(x0, i), 0.0, 1.0)
    cy = jnp.clip(jnp.minimum(y1, i + 1) - jnp.maximum(y0, i), 0.0, 1.0)
    return cy[:, None] * cx[None, :]


def render_float(s: BallState, resolution: int, occluder=None) -> jax.Array:
    """(..., H, W, 3) float32 image in [0, 1]."""
    lead = s.pos.shape[:-2]
    grid = jnp.arange(resolution, dtype=jnp.float32)
    img = jnp.full(lead + (resolution, resolution, 3), BACKGROUND, jnp.float32)
    palette = jnp.asarray(COLOURS)
    for k in range(s.pos.shape[-2]):  # K <= 6: unrolled compositing, memory stays (..., H, W)
        p = world_to_pixel(s.pos[..., k, :], resolution)  # (..., 2)
        r = s.radius[..., k] * resolution
        dx = grid - p[..., 0, None]  # (..., W)
        dy = grid - p[..., 1, None]  # (..., H)
        d = jnp.sqrt(dy[..., :, None] ** 2 + dx[..., None, :] ** 2)  # (..., H, W)
        alpha = jnp.clip(r[..., None, None] - d + 0.5, 0.0, 1.0)
        alpha = jnp.where(s.present[..., k, None, None], alpha, 0.0)[..., None]
        colour = palette[s.colour[..., k]][..., None, None, :]  # (..., 1, 1, 3)
        img = img * (1.0 - alpha) + colour * alpha
    if occluder is not None:
        cov = _occluder_coverage(occluder, resolution)[..., None]
        img = img * (1.0 - cov) + OCCLUDER_GREY * cov
    return img


def to_uint8(img: jax.Array) -> jax.Array:
    return jnp.round(jnp.clip(img, 0.0, 1.0) * 255.0).astype(jnp.uint8)


def render(s: BallState, resolution: int, occluder=None) -> jax.Array:
    """(..., H, W, 3) uint8 frames of the given states."""
    return to_uint8(render_float(s, resolution, occluder))
