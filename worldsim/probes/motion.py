"""Velocity and position errors of a predicted clip (docs/eval.md measures 1 and 2), in world units.

Velocities are finite differences of consecutive frames, u_t = (x_t - x_{t-1}) / dt in world units per second,
for both the prediction (tracked centres) and the truth (exact centres), so free flight compares like with like
and the oracle scores the tracker floor. Multiply by dt for world units per frame, or by dt * resolution for
pixels per frame. The pair (c-1, c) is the first one measured: it is how the generation continues the given motion.
"""

from __future__ import annotations

import numpy as np

from worldsim.probes.align import Aligned, masked_mean
from worldsim.probes.contacts import since


def velocity_error(a: Aligned) -> dict[str, float]:
    """Mean |u_hat - u| (world units / s) over objects and measured frame pairs of the generated horizon.

    vel_err: all pairs; vel_err_post: pairs at or after the object's first contact in the generated horizon
    (exact, from the states; the pair spanning the contact counts as post); vel_err_pre: the others;
    speed: mean true |u| on the same pairs (what a frozen prediction scores); n_*: pairs measured.
    """
    u = np.diff(a.pos, axis=1) / a.dt  # (B, T-1, K, 2): pair (t-1, t) at index t-1
    u_hat = np.diff(a.pos_hat, axis=1) / a.dt
    err = np.linalg.norm(u_hat - u, axis=-1)  # (B, T-1, K), NaN where a prediction is missing
    m = a.measured
    ok = m[:, 1:] & m[:, :-1] & a.generated[1:, None]
    post = since(a.contact, a.c, axis=-2)[:, 1:]
    return {
        "vel_err": masked_mean(err, ok),
        "vel_err_post": masked_mean(err, ok & post),
        "vel_err_pre": masked_mean(err, ok & ~post),
        "speed": masked_mean(np.linalg.norm(u, axis=-1), ok),
        "n_vel": int(ok.sum()),
        "n_vel_post": int((ok & post).sum()),
    }


def position_errors(a: Aligned) -> np.ndarray:
    """(B, T, K) |x_hat - x| in world units; NaN where the predicted object is missing."""
    return np.linalg.norm(a.pos_hat - a.pos, axis=-1)


def position_error(a: Aligned) -> dict:
    """ADE, FDE (world units), the error curve and the valid horizon (frames) of the generated horizon.

    ade: mean over measured objects and generated frames; ade_curve (H,): the same per generated frame;
    fde: mean over objects measured in the last frame; horizon: mean over clips of the number of generated
    frames before the first one where any ball is lost or off by more than its radius (H if never; flagged
    frames count too, since a one-radius test is far above the flag bias); horizon_per_clip (B,);
    coverage: measured / truth-valid object-frames; missing: share of truth-visible object-frames whose colour
    is absent from the prediction.
    """
    err = position_errors(a)
    gen = a.generated[None, :, None]
    m = a.measured & gen
    lost = a.truth_present & gen & (~a.pred_present | (np.nan_to_num(err, nan=np.inf) > a.radius))
    bad = np.any(lost, axis=-1)[:, a.c :]  # (B, H)
    horizon = np.where(bad.any(-1), np.argmax(bad, axis=-1), a.horizon)
    truth_ok = a.truth_valid & gen
    seen = a.truth_present & gen
    return {
        "ade": masked_mean(err, m),
        "fde": masked_mean(err[:, -1], m[:, -1]),
        "ade_curve": masked_mean(err, m, axis=(0, 2))[a.c :],
        "horizon": float(horizon.mean()),
        "horizon_per_clip": horizon,
        "coverage": float(m.sum() / max(truth_ok.sum(), 1)),
        "missing": float((seen & ~a.pred_present).sum() / max(seen.sum(), 1)),
    }
