"""Put videos (or images) next to each other: prediction | truth, several clips in one file."""

from __future__ import annotations

import numpy as np

from worldsim.viz.checks import positive_int, uint8_frames

SEPARATOR = 255  # white: the worlds' background is black and their occluder grey, so white never blends in


def side_by_side(*videos, gap: int = 2) -> np.ndarray:
    """Concatenate uint8 (..., H, W, 3) arrays along the width with `gap` white columns between them.

    All must share every axis but the width, e.g. two (T, H, W, 3) clips -> (T, H, W_a + gap + W_b, 3).
    """
    if not videos:
        raise ValueError("side_by_side needs at least one video")
    if isinstance(gap, bool) or not isinstance(gap, (int, np.integer)) or gap < 0:
        raise ValueError(f"gap={gap!r}: use an integer >= 0")
    videos = [uint8_frames(v, f"video {i}") for i, v in enumerate(videos)]
    lead = videos[0].shape[:-2]
    for i, v in enumerate(videos[1:], 1):
        if v.shape[:-2] != lead:
            raise ValueError(
                f"video {i} has shape {v.shape} but video 0 has {videos[0].shape}: all axes except the width must match"
            )
    sep = np.full(lead + (gap, 3), SEPARATOR, np.uint8)
    parts = [videos[0]]
    for v in videos[1:]:
        parts += [sep, v]
    return np.concatenate(parts, axis=-2)


def grid(videos, columns: int, gap: int = 2) -> np.ndarray:
    """Tile n uint8 (..., H, W, 3) arrays of one shape in rows of `columns`, white `gap` lines between them; a short
    last row is filled with blank (black) tiles."""
    videos = [uint8_frames(v, f"video {i}") for i, v in enumerate(videos)]
    if not videos:
        raise ValueError("grid needs at least one video")
    columns = positive_int(columns, "columns")
    if any(v.shape != videos[0].shape for v in videos):
        raise ValueError(f"grid needs videos of one shape, got {sorted({v.shape for v in videos})}")
    blank = np.zeros_like(videos[0])
    videos = videos + [blank] * (-len(videos) % columns)
    rows = [side_by_side(*videos[i:i + columns], gap=gap) for i in range(0, len(videos), columns)]
    sep = np.full(rows[0].shape[:-3] + (gap,) + rows[0].shape[-2:], SEPARATOR, np.uint8)
    parts = [rows[0]]
    for r in rows[1:]:
        parts += [sep, r]
    return np.concatenate(parts, axis=-3)


def upscale(video, factor: int) -> np.ndarray:
    """Each pixel as a factor x factor block (nearest neighbour: the pixels stay sharp, no colour is invented)."""
    video, factor = uint8_frames(video), positive_int(factor, "factor")
    return video.repeat(factor, axis=-3).repeat(factor, axis=-2)
