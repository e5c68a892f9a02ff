"""Long-rollout invariants (docs/eval.md measure 10): what a free rollout keeps over many generated frames.

Exact trajectories diverge after collisions even for a perfect model, so frames far past the given ones are judged
by what must hold whatever the trajectory: every ball still there, its size, its speed, the scene's kinetic
energy (elastic worlds) and static scenery. All from tracked frames (the project's tracker), model and truth alike.

    m = long_rollout(aligned)            # aligned = probes.align.align(pred, truth, states, c, dt)
    m["speed_ratio_curve"]               # (H,) mean tracked speed, model / truth, per generated frame
"""

from __future__ import annotations

import numpy as np

from worldsim.probes.align import Aligned, masked_mean
from worldsim.worlds.palette import OCCLUDER_GREY

GREY_TOLERANCE = 0.1  # per channel, in [0, 1]: the bar's grey, not a ball's blend with it


def _speeds(pos: np.ndarray, ok: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Tracked speeds (B, T, K) from positions (B, T, K, 2): |pos_t - pos_{t-1}| / dt where ok at both frames;
    NaN at t = 0. Returns (speed, ok_pairs)."""
    step = np.linalg.norm(np.diff(pos, axis=1), axis=-1) / dt  # (B, T-1, K)
    pairs = ok[:, 1:] & ok[:, :-1] & np.isfinite(step)
    speed = np.concatenate([np.full_like(step[:, :1], np.nan), step], axis=1)
    return speed, np.concatenate([np.zeros_like(pairs[:, :1]), pairs], axis=1)


def long_rollout(a: Aligned, first: int = 16) -> dict:
    """Invariants of a free rollout against its truth (both tracked).

    count_acc_all: share of generated frames with the truth's number of balls; count_curve (H,): that share per
    generated frame; found (found_curve): share of present balls whose colour is found; speed_ratio (frames 1 ..
    `first`) and speed_ratio_late (the rest): mean tracked model speed / mean tracked true speed over balls found
    in both frames of a step, speed_ratio_curve (H,) per frame (a flat 1.0 is the goal, a decaying curve is
    exposure bias); energy_ratio: tracked kinetic energy (m ~ r_hat^2, a lost ball counts 0) over the last two
    frames against the last two given ones, model_energy_ratio / truth's; radius_ratio_end: mean tracked radius at
    the last frame over the last given frame (balls found at both; radius_ratio_curve per frame)."""
    c, t = a.c, a.pos.shape[1]
    present = a.present
    n_pred, n_true = a.pred_colours.sum(-1), a.truth_colours.sum(-1)  # (B, T)
    count = (n_pred == n_true)[:, c:]
    found = (a.pred_present[:, c:] | ~present[:, c:])  # (B, H, K)
    found_curve = np.asarray([masked_mean(found[:, i], present[:, c + i]) for i in range(t - c)])
    truth_pos = np.where(a.truth_present[..., None], a.pos, np.nan)
    v_hat, ok = _speeds(a.pos_hat, a.pred_present & a.truth_present, a.dt)
    v_true, _ = _speeds(truth_pos, a.truth_present, a.dt)  # on the model's ball-steps: like compared with like
    num = np.where(ok, v_hat, 0.0).sum((0, 2))
    den = np.where(ok, v_true, 0.0).sum((0, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        curve = (num / den)[c:]
        lo, hi = slice(c, min(c + first, t)), slice(min(c + first, t), t)
        ratio = num[lo].sum() / den[lo].sum()
        ratio_late = num[hi].sum() / den[hi].sum() if t > c + first else np.nan
    # kinetic energy from tracks: a ball the model lost has no energy left
    m_hat = np.nan_to_num(a.r_hat) ** 2
    v_all, ok_all = _speeds(a.pos_hat, a.pred_present, a.dt)
    ke_hat = np.where(ok_all, m_hat * np.nan_to_num(v_all) ** 2, 0.0).sum(-1)  # (B, T)
    m_true = a.radius**2
    v_t, ok_t = _speeds(a.pos, present, a.dt)
    ke_true = np.where(ok_t, m_true * np.nan_to_num(v_t) ** 2, 0.0).sum(-1)
    start, end = slice(c - 2, c), slice(t - 2, t)  # needs c >= 3 (the speed at c - 2 looks back one frame)
    with np.errstate(invalid="ignore", divide="ignore"):
        e_model = ke_hat[:, end].mean(1) / ke_hat[:, start].mean(1)
        e_truth = ke_true[:, end].mean(1) / ke_true[:, start].mean(1)
    r_ok = a.pred_present & a.truth_present & present
    r_ratio = a.r_hat / np.where(r_ok[:, c - 1 : c], a.r_hat[:, c - 1 : c], np.nan)  # (B, T, K)
    r_curve = np.asarray([masked_mean(r_ratio[:, i], r_ok[:, i] & r_ok[:, c - 1]) for i in range(c, t)])
    return {
        "count_acc_all": float(count.mean()),
        "count_curve": count.mean(0),
        "found": masked_mean(found, present[:, c:]),
        "found_curve": found_curve,
        "speed_ratio": float(ratio),
        "speed_ratio_late": float(ratio_late),
        "speed_ratio_curve": curve,
        "energy_ratio": float(np.nanmedian(e_model)) if np.isfinite(e_model).any() else float("nan"),
        "truth_energy_ratio": float(np.nanmedian(e_truth)) if np.isfinite(e_truth).any() else float("nan"),
        "radius_ratio_end": float(r_curve[-1]),
        "radius_ratio_curve": r_curve,
    }


def scenery_kept(pred, truth) -> float:
    """Share of the static grey scenery (the occluder: pixels the bar's grey in every truth frame) that is still
    that grey in the last predicted frame; NaN for clips without any. pred, truth: uint8 (B, T, H, W, 3)."""
    grey = lambda f: np.all(np.abs(np.asarray(f, np.float32) / 255.0 - OCCLUDER_GREY) < GREY_TOLERANCE, -1)  # noqa: E731
    static = grey(truth).all(1)  # (B, H, W)
    if not static.any():
        return float("nan")
    return float(grey(np.asarray(pred)[:, -1])[static].mean())
