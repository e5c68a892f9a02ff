"""Colour-centroid tracker (docs/eval.md): one track per palette colour, sub-pixel centres from coverage weights.

Each pixel is explained as `alpha * colour` over the black background for the palette colour that fits it best;
alpha estimates the ball's coverage of that pixel (the renderer's anti-aliasing), so the coverage-weighted mean
pixel centre is the ball's centre and sqrt(sum(alpha) / pi) its radius. Pixels no colour fits (the grey occluder,
blends where balls touch) count for nobody. Frames where an object touches the border, touches another object or
touches the occluder are flagged: docs/eval.md drops them.

Positions are in pixel coordinates: x = column, y = row, pixel i's centre at i (see worlds.world_to_pixel).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from worldsim.worlds.palette import COLOURS, OCCLUDER_GREY

MIN_ALPHA = 0.04  # coverage below this is treated as background (uint8 noise is 1/255)
FIT_TOLERANCE = 0.15  # a pixel belongs to colour c if its residual off the c axis is < 15% of its brightness
BLEND_BRIGHTNESS = 0.25**2  # squared RGB norm above which an unexplained pixel is a blend of two balls
MIN_AREA = 1.5  # a colour with less total coverage (px^2) is absent


class Tracks(NamedTuple):
    """Per palette colour c (C = 6), leading axes as the frames' (..., T)."""

    pos: jax.Array  # (..., C, 2) float32 pixel coordinates (x, y); NaN where absent
    radius: jax.Array  # (..., C) float32 pixels
    area: jax.Array  # (..., C) float32 total coverage, px^2
    present: jax.Array  # (..., C) bool
    border: jax.Array  # (..., C) bool: touches the image border
    overlap: jax.Array  # (..., C) bool: touches another object
    occluded: jax.Array  # (..., C) bool: touches the occluder

    @property
    def valid(self) -> jax.Array:
        """(..., C) present and not flagged: the frames docs/eval.md measures on."""
        return self.present & ~self.border & ~self.overlap & ~self.occluded


def _dilate(mask: jax.Array) -> jax.Array:
    """3x3 binary dilation over the last two axes (H, W)."""
    p = jnp.pad(mask, [(0, 0)] * (mask.ndim - 2) + [(1, 1), (1, 1)])
    h, w = mask.shape[-2:]
    out = mask
    for dy in range(3):
        for dx in range(3):
            out = out | p[..., dy : dy + h, dx : dx + w]
    return out


@jax.jit
def _track(frames: jax.Array) -> Tracks:
    img = frames.astype(jnp.float32) / 255.0  # (..., H, W, 3)
    pal = jnp.asarray(COLOURS)  # (C, 3)
    norm2 = jnp.sum(pal**2, -1)  # (C,)
    alpha = jnp.einsum("...hwk,ck->...chw", img, pal) / norm2[:, None, None]  # (..., C, H, W)
    resid = jnp.sum((img[..., None, :, :, :] - alpha[..., None] * pal[:, None, None, :]) ** 2, -1)
    brightness = jnp.sum(img**2, -1)[..., None, :, :]  # (..., 1, H, W)
    fits = (resid <= (FIT_TOLERANCE**2) * brightness) & (alpha > MIN_ALPHA)
    best = jnp.argmin(jnp.where(fits, resid, jnp.inf), axis=-3)  # (..., H, W)
    owner = fits & (jnp.arange(pal.shape[0])[:, None, None] == best[..., None, :, :])
    w = jnp.where(owner, jnp.clip(alpha, 0.0, 1.0), 0.0)  # (..., C, H, W)
    h, wd = frames.shape[-3:-1]
    ys = jnp.arange(h, dtype=jnp.float32)[:, None]
    xs = jnp.arange(wd, dtype=jnp.float32)[None, :]
    area = jnp.sum(w, (-2, -1))
    safe = jnp.maximum(area, 1e-6)
    cx = jnp.sum(w * xs, (-2, -1)) / safe
    cy = jnp.sum(w * ys, (-2, -1)) / safe
    present = area >= MIN_AREA
    pos = jnp.where(present[..., None], jnp.stack([cx, cy], -1), jnp.nan)
    radius = jnp.where(present, jnp.sqrt(area / jnp.pi), jnp.nan)

    mask = owner & present[..., None, None]
    edge = jnp.zeros((h, wd), bool).at[0, :].set(True).at[-1, :].set(True).at[:, 0].set(True).at[:, -1].set(True)
    border = jnp.any(mask & edge, (-2, -1))
    grown = _dilate(mask)
    others = jnp.sum(mask, axis=-3, keepdims=True) - mask  # (..., C, H, W) count of other owners
    # A bright blend pixel nobody owns (two colours mixed where balls touch) also marks contact.
    unowned = (brightness[..., 0, :, :] > BLEND_BRIGHTNESS) & ~jnp.any(owner, axis=-3)
    overlap = jnp.any(grown & (others > 0), (-2, -1)) | (
        jnp.any(grown & unowned[..., None, :, :], (-2, -1)) & (jnp.sum(present, -1, keepdims=True) > 1)
    )
    grey = jnp.all(jnp.abs(img - OCCLUDER_GREY) < 0.2, -1) | (
        (jnp.std(img, -1) < 0.05) & (jnp.mean(img, -1) > 0.1)
    )  # (..., H, W) the occluder and its edges
    occluded = jnp.any(grown & grey[..., None, :, :], (-2, -1))
    return Tracks(pos, radius, area, present, border, overlap & present, occluded & present)


def track(frames) -> Tracks:
    """Track every palette colour in uint8 frames (..., H, W, 3); returns per-colour Tracks over the leading axes."""
    frames = jnp.asarray(frames)
    if frames.ndim < 3 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 (..., H, W, 3), got shape {frames.shape}")
    if frames.dtype != jnp.uint8:
        raise ValueError(f"frames must be uint8 in [0, 255], got {frames.dtype}: convert with (x * 255).round().astype(uint8)")
    if frames.shape[-3] < 4 or frames.shape[-2] < 4:
        raise ValueError(f"frames are too small to track ({frames.shape[-3]}x{frames.shape[-2]}): need at least 4x4")
    if frames.size == 0:
        raise ValueError("frames are empty")
    return _track(frames)


def objects(tracks: Tracks, colour: jax.Array) -> Tracks:
    """Re-index per-colour tracks to per-object tracks: colour (..., K) colour ids -> fields (..., T, K)."""
    colour = jnp.asarray(colour)
    if colour.ndim == tracks.present.ndim - 1:  # (..., K) fixed over time: add the T axis
        colour = jnp.broadcast_to(colour[..., None, :], tracks.present.shape[:-1] + colour.shape[-1:])
    take = lambda x: jnp.take_along_axis(x, colour if x.ndim == colour.ndim else colour[..., None], axis=colour.ndim - 1)  # noqa: E731
    return Tracks(*(take(f) for f in tracks))


def floor_error(frames, states, resolution: int) -> dict[str, float]:
    """Tracker error on ground-truth frames (the docs/eval.md floor) in pixels, on unflagged frames of present balls."""
    from worldsim.worlds.render import world_to_pixel

    per = objects(track(frames), states.colour)
    truth = world_to_pixel(np.asarray(states.pos), resolution)
    ok = np.asarray(per.valid) & np.asarray(states.present)
    err = np.linalg.norm(np.asarray(per.pos) - truth, axis=-1)[ok]
    r_err = np.abs(np.asarray(per.radius) - np.asarray(states.radius) * resolution)[ok]
    count_ok = np.asarray(per.present) == np.asarray(states.present)
    return {
        "mean_px": float(err.mean()),
        "max_px": float(err.max()),
        "radius_mean_px": float(r_err.mean()),
        "valid_fraction": float(ok.sum() / max(np.asarray(states.present).sum(), 1)),
        "presence_accuracy": float(count_ok.mean()),
    }
