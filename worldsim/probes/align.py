"""Line up a predicted clip with the ground truth: track both, match objects by colour, build the measurement masks.

Conventions every measure in this package shares (docs/eval.md):
  * A predicted clip has the same shape as the truth, (B, T, H, W, 3) uint8; frames [0, c) are the conditioning
    frames (usually the truth's own), frames [c, T) are generated: the H = T - c frames that are measured.
  * Objects are the ground-truth ball slots k; the prediction's object k is the track of the truth's colour of
    slot k (per frame, so a colour change is seen as such).
  * Units: positions in **world units** (the box is [0, 1]^2; a pixel is 1 / resolution), velocities in world
    units per second, times in seconds. Tracked pixel coordinates are converted with `pixel_to_world`.
  * References are the **exact states**, not the truth frames: the oracle (truth frames through the tracker)
    therefore scores the tracker's own error, the floor.
  * A frame of object k is measured when the ball is present, its truth-frame track is not flagged (border,
    overlap, occluder: docs/eval.md drops those) and its colour is found in the predicted frame. The truth's flags
    decide, so every model is scored on the same frames: dropping the prediction's flagged frames too would hide
    exactly the errors that matter (a ball driven into a wall touches the border; one that fails to bounce off
    another overlaps it) and reward them. A predicted ball missing where the truth's is valid cannot be located:
    it is counted in `coverage` / `missing` and ends the valid horizon, not in the means.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from worldsim.probes.contacts import contacts
from worldsim.probes.tracker import objects, track
from worldsim.worlds.render import pixel_to_world
from worldsim.worlds.state import BallState


class Aligned(NamedTuple):
    """A predicted clip against the truth, as numpy arrays (B clips, T frames, K ball slots, C = 6 colours)."""

    c: int  # conditioning frames; generated frames are t = c .. T-1
    dt: float  # seconds between frames
    resolution: int  # pixels per world unit (frames are resolution x resolution)
    pos_hat: np.ndarray  # (B, T, K, 2) tracked predicted centre, world units; NaN where absent
    r_hat: np.ndarray  # (B, T, K) tracked predicted radius, world units; NaN where absent
    pos: np.ndarray  # (B, T, K, 2) exact centre, world units
    vel: np.ndarray  # (B, T, K, 2) exact velocity, world units / s
    radius: np.ndarray  # (B, T, K) exact radius, world units
    mass: np.ndarray  # (B, T, K) mass, proportional to radius^2 (worlds.config.REFERENCE_RADIUS)
    gravity: np.ndarray  # (B, T, 2) acceleration, world units / s^2
    present: np.ndarray  # (B, T, K) bool: the slot holds a ball (exact)
    pred_present: np.ndarray  # (B, T, K) bool: the object's colour is found in the predicted frame
    pred_valid: np.ndarray  # (B, T, K) bool: found and not flagged in the predicted frame
    truth_present: np.ndarray  # (B, T, K) bool: found in the truth frame (an occluder can hide a ball)
    truth_valid: np.ndarray  # (B, T, K) bool: found and not flagged in the truth frame
    contact: np.ndarray  # (B, T, K) bool: the ball's motion left free flight during (t-1, t] (exact)
    pred_colours: np.ndarray  # (B, T, C) bool: palette colours found in the predicted frames
    truth_colours: np.ndarray  # (B, T, C) bool: palette colours found in the truth frames

    @property
    def measured(self) -> np.ndarray:
        """(B, T, K) frames a per-frame measure uses: ball present, valid in the truth, found in the prediction."""
        return self.present & self.truth_valid & self.pred_present

    @property
    def generated(self) -> np.ndarray:
        """(T,) bool: the generated frames t >= c."""
        return np.arange(self.pos.shape[1]) >= self.c

    @property
    def horizon(self) -> int:
        """H = T - c generated frames."""
        return self.pos.shape[1] - self.c


def check_clip(frames, name: str) -> np.ndarray:
    """A clip batch as uint8 numpy (B, T, H, W, 3) with H = W, or a ValueError that says how to fix it."""
    frames = np.asarray(frames)
    if frames.ndim != 5 or frames.shape[-1] != 3:
        raise ValueError(f"{name} must be uint8 (B, T, H, W, 3), got shape {frames.shape}: add the batch axis with x[None]")
    if frames.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8, got {frames.dtype}: convert with (x * 255).round().astype(np.uint8)")
    if frames.size == 0:
        raise ValueError(f"{name} is empty (shape {frames.shape}): pass at least one clip with at least two frames")
    if frames.shape[2] != frames.shape[3]:
        raise ValueError(f"{name} frames must be square like the worlds' (H = W), got {frames.shape[2]}x{frames.shape[3]}")
    return frames


def check_c(c, num_frames: int) -> int:
    """The number of conditioning frames: an integer with 1 <= c <= T - 1 (at least one generated frame)."""
    if num_frames < 2:
        raise ValueError(f"clips of {num_frames} frame(s) have nothing to generate: pass clips of at least 2 frames")
    if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or not 1 <= c <= num_frames - 1:
        raise ValueError(
            f"c={c!r} conditioning frames is out of range for clips of {num_frames} frames: use an integer "
            f"1 <= c <= {num_frames - 1} so that at least one frame is generated"
        )
    return int(c)


def check_dt(dt) -> float:
    """The frame interval in seconds, a finite number > 0."""
    try:
        value = float(dt)
    except (TypeError, ValueError):
        value = float("nan")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"dt={dt!r}: pass the clip's frame interval in seconds (Episode.dt), a number > 0")
    return value


def check_states(states, frames_shape) -> BallState:
    """Ground-truth states whose leaves lead with the clips' (B, T)."""
    if not isinstance(states, BallState):
        raise ValueError(f"states must be a worldsim.worlds.BallState (Episode.states), got {type(states).__name__}")
    bt = tuple(frames_shape[:2])
    pos = np.shape(states.pos)
    if pos[:2] != bt or len(pos) != 4:
        raise ValueError(
            f"states.pos has shape {pos} but the clips are {bt} (B, T): pass the states of the same clips "
            "(Episode.states), cut to the same frames"
        )
    return states


def align(pred, truth, states: BallState, c: int, dt: float) -> Aligned:
    """Track predicted and ground-truth clips (uint8 (B, T, H, W, 3), the same shape) and line them up by colour.

    states: the truth's exact states (Episode.states, leaves (B, T, K, ...)); c: conditioning frames; dt: seconds
    between frames (Episode.dt). Raises ValueError on empty or mismatched input and when no ball is visible.
    """
    pred, truth = check_clip(pred, "pred"), check_clip(truth, "truth")
    if pred.shape != truth.shape:
        raise ValueError(
            f"pred {pred.shape} and truth {truth.shape} differ: pass the whole predicted clip, conditioning frames "
            "included (np.concatenate([truth[:, :c], generated], axis=1)), at the truth's resolution"
        )
    states = check_states(states, truth.shape)
    c = check_c(c, truth.shape[1])
    dt = check_dt(dt)
    res = truth.shape[2]
    tr_pred, tr_truth = track(pred), track(truth)
    colour = np.asarray(states.colour)
    per_pred, per_truth = objects(tr_pred, colour), objects(tr_truth, colour)
    present = np.asarray(states.present)
    truth_valid = np.asarray(per_truth.valid) & present
    if not truth_valid[:, c:].any():
        raise ValueError(
            "no ball is visible (present and unflagged) in the generated part of the ground-truth frames: "
            "check that truth holds the rendered clips of these states, or use a later c / longer clips"
        )
    f64 = lambda x: np.asarray(x, np.float64)  # noqa: E731
    return Aligned(
        c=c,
        dt=float(dt),
        resolution=res,
        pos_hat=pixel_to_world(f64(per_pred.pos), res),
        r_hat=f64(per_pred.radius) / res,
        pos=f64(states.pos),
        vel=f64(states.vel),
        radius=f64(states.radius),
        mass=f64(states.mass),
        gravity=f64(states.gravity),
        present=present,
        pred_present=np.asarray(per_pred.present) & present,
        pred_valid=np.asarray(per_pred.valid) & present,
        truth_present=np.asarray(per_truth.present) & present,
        truth_valid=truth_valid,
        contact=contacts(states, dt),
        pred_colours=np.asarray(tr_pred.present),
        truth_colours=np.asarray(tr_truth.present),
    )


def masked_mean(x: np.ndarray, mask: np.ndarray, axis=None):
    """Mean of x where mask (broadcast to x's shape); NaN where nothing is selected."""
    mask = np.broadcast_to(mask, np.shape(x))
    n = np.sum(mask, axis=axis)
    s = np.sum(np.where(mask, x, 0.0), axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = s / n
    return float(out) if np.ndim(out) == 0 else out
