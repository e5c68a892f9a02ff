"""PNG images <-> uint8 (H, W, 3) arrays (contact sheets, single frames)."""

from __future__ import annotations

from pathlib import Path

from worldsim.io.checks import as_uint8, atomic_target, prepare_output
from worldsim.io.ffmpeg import mediapy


def write_image(path, image) -> Path:
    """Write uint8 (H, W, 3) (or float in [0, 1]) to `path` as PNG (lossless); returns the Path written."""
    path = prepare_output(path, (".png",))
    image = as_uint8(image, rank=3, what="image")
    with atomic_target(path) as tmp:
        mediapy().write_image(tmp, image, fmt="png")
    return path
