"""The frames-only baselines as Predictors, so they run through the evaluation harness like any model.

copy_last and constant_velocity (tracked) need nothing but the conditioning frames. The other two baselines of
docs/eval.md read the ground truth (constant velocity from the true state, the oracle): the harness computes those
itself, since no predictor is given the truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from worldsim.probes.baselines import constant_velocity_tracked, copy_last


def _given(frames, num_frames: int, resolution: int) -> np.ndarray:
    """The conditioning frames followed by num_frames empty slots: (B, k + num_frames, H, W, 3) uint8."""
    frames = np.asarray(frames)
    if frames.ndim != 5 or frames.shape[2:] != (resolution, resolution, 3) or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (B, k, {resolution}, {resolution}, 3), got {frames.dtype}{frames.shape}")
    if isinstance(num_frames, bool) or not isinstance(num_frames, (int, np.integer)) or num_frames < 1:
        raise ValueError(f"num_frames={num_frames!r}: ask for at least one generated frame")
    pad = np.zeros((frames.shape[0], int(num_frames)) + frames.shape[2:], np.uint8)
    return np.concatenate([frames, pad], axis=1)


@dataclass
class CopyLast:
    """Repeats the last conditioning frame."""

    resolution: int = 64
    name: str = "copy_last"

    def continue_frames(self, frames, actions, captions, num_frames, key) -> np.ndarray:
        k = np.shape(frames)[1]
        return copy_last(_given(frames, num_frames, self.resolution), k)[:, k:]


@dataclass
class ConstantVelocity:
    """Constant velocity of each tracked colour over the conditioning frames (probes.constant_velocity_tracked)."""

    resolution: int = 64
    name: str = "constant_velocity"

    def __post_init__(self):
        from worldsim.worlds import make

        self._canvas = make("bouncing_balls", resolution=self.resolution)  # any world draws balls the same way

    def continue_frames(self, frames, actions, captions, num_frames, key) -> np.ndarray:
        k = np.shape(frames)[1]
        return constant_velocity_tracked(_given(frames, num_frames, self.resolution), k, self._canvas)[:, k:]


BASELINES = {"copy_last": CopyLast, "constant_velocity": ConstantVelocity}

