"""Object integrity of a predicted clip (docs/eval.md measure 5): counts, colour swaps, jumps, radius drift.

Over the generated frames t >= c (pass 64-frame clips for the twice-the-training-horizon check). Distances and
radii in world units; rates are shares of the object-frames (or frame pairs) they are counted over.
"""

from __future__ import annotations

import numpy as np

from worldsim.probes.align import Aligned, masked_mean
from worldsim.probes.tracker import Tracks


def position_jumps(tracks: Tracks, threshold_px=None) -> np.ndarray:
    """(..., T, C) bool: the track moved more than threshold_px pixels between frames t-1 and t (both present).

    Works on per-colour or per-object tracks of any clip, no truth needed: a teleport, or a colour that leaves one
    ball for another. threshold_px: scalar or broadcastable to (..., T-1, C); default the track's own radius at
    t-1 (a ball at in-distribution speed moves at most ~2/3 of its radius per frame; pass a larger one for fast
    OOD splits). Frame 0 is never a jump.
    """
    pos, present = np.asarray(tracks.pos, np.float64), np.asarray(tracks.present)
    if pos.ndim < 3 or pos.shape[-1] != 2 or present.shape != pos.shape[:-1]:
        raise ValueError(f"tracks must have pos (..., T, C, 2) and present (..., T, C), got {pos.shape} and {present.shape}")
    step = np.linalg.norm(np.diff(pos, axis=-3), axis=-1)  # (..., T-1, C)
    limit = np.asarray(tracks.radius, np.float64)[..., :-1, :] if threshold_px is None else threshold_px
    jump = present[..., 1:, :] & present[..., :-1, :] & (np.nan_to_num(step) > limit)
    return np.concatenate([np.zeros_like(jump[..., :1, :]), jump], axis=-2)


def integrity(a: Aligned) -> dict[str, float]:
    """count_acc: share of generated frames with as many balls as the truth; colour_acc: with the same colours;
    swap_rate: share of object-frames (found in both) where the object's colour i sits within another ball j's
    true radius and outside its own, while j's colour sits on ball i or is gone (colours exchanged or taken over;
    a frozen ball that another merely passes is no swap); clips_with_swap: share of clips with any;
    jump_rate: share of frame pairs whose predicted displacement is off the true one by more than a radius
    (teleports, swaps); radius_err: mean |r_hat - r| / r on measured frames where the predicted ball is unflagged
    (a ball cut by the border has a smaller visible radius); radius_drift: mean |r_hat(T-1) - r_hat(c-1)| / r over
    balls measured so in both.
    """
    gen = a.generated
    n_pred, n_true = a.pred_colours.sum(-1), a.truth_colours.sum(-1)  # (B, T)
    both = a.pred_present & a.truth_present & gen[None, :, None]  # (B, T, K)
    d = np.linalg.norm(a.pos_hat[..., :, None, :] - a.pos[..., None, :, :], axis=-1)  # (B, T, K_pred, K_true)
    d = np.nan_to_num(d, nan=np.inf)
    k = a.present.shape[-1]
    own = np.diagonal(d, axis1=-2, axis2=-1)  # (B, T, K)
    near = (d < a.radius[..., None, :]) & a.truth_present[..., None, :]  # (B, T, i, j) colour i on ball j
    gone = a.truth_present & ~a.pred_present  # (B, T, K) the colour is missing
    taken = near.swapaxes(-1, -2) | gone[..., None, :]  # colour j on ball i, or colour j gone
    swap = both & np.any(near & taken & ~np.eye(k, dtype=bool), -1) & (own > a.radius)  # (B, T, K)
    step_err = np.linalg.norm(np.diff(a.pos_hat, axis=1) - np.diff(a.pos, axis=1), axis=-1)  # (B, T-1, K)
    pair = both[:, 1:] & a.pred_present[:, :-1] & a.truth_present[:, :-1]
    jump = pair & (np.nan_to_num(step_err, nan=np.inf) > a.radius[:, 1:])
    whole = a.measured & a.pred_valid  # radii only where the predicted ball is whole (not cut by border/overlap)
    m = whole & gen[None, :, None]
    rel = np.abs(a.r_hat - a.radius) / a.radius
    ends = whole[:, a.c - 1] & whole[:, -1]
    drift = np.abs(a.r_hat[:, -1] - a.r_hat[:, a.c - 1]) / a.radius[:, -1]
    return {
        "count_acc": float(np.mean((n_pred == n_true)[:, gen])),
        "colour_acc": float(np.mean(np.all(a.pred_colours == a.truth_colours, -1)[:, gen])),
        "swap_rate": masked_mean(swap, both),
        "clips_with_swap": float(np.mean(swap.any((1, 2)))),
        "jump_rate": masked_mean(jump, pair),
        "radius_err": masked_mean(rel, m),
        "radius_drift": masked_mean(drift, ends),
    }
