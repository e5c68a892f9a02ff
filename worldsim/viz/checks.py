"""Argument checks for the viz functions (errors name the expected layout)."""

from __future__ import annotations

import numpy as np


def uint8_frames(x, what: str = "frames") -> np.ndarray:
    """np.uint8 array (..., H, W, 3); floats are not guessed at: convert with ws.io's rules or (x*255).round()."""
    x = np.asarray(x)
    if x.ndim < 3 or x.shape[-1] != 3:
        raise ValueError(f"{what} must be RGB (..., H, W, 3), got shape {x.shape}")
    if x.dtype != np.uint8:
        raise ValueError(f"{what} must be uint8, got {x.dtype}: convert with (np.clip(x, 0, 1) * 255).round().astype(np.uint8)")
    return x


def positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}={value!r}: use an integer >= 1")
    return int(value)
