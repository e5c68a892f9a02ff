"""Law fit and conservation on a predicted clip (docs/eval.md measures 3 and 4), from tracked finite differences.

Law fit: least squares y(t) = y0 + v t + a t^2 / 2 on the tracked height of each ball over its longest run of
>= min_frames consecutive measured generated frames without a contact (free flight, exact from the states),
-> |a_hat - a| / |a|, a = the world's gravity (world units / s^2). Only in worlds with gravity.

Conservation, over the generated horizon, with velocities u_t = (x_t - x_{t-1}) / dt of the tracked centres and
the exact masses (m proportional to r^2: the true radii, so radius drift is measured apart, in integrity.py):
  momentum |sum m u_hat(t) - P(t)| / |P0|, P0 = the true total momentum at frame c-1 and P(t) = P0 + M g (t-c+1/2) dt
    (u_t is the velocity at t - 1/2), on pairs before the first wall contact of the generated horizon (walls
    change momentum; ball-ball impulses cancel, so collisions between balls stay in). Clips whose |P0| is below
    MIN_P0_FRACTION of sum m |v| (balls moving against each other) are skipped: the ratio would blow up.
  energy |E_hat(t) - E0| / E0, E = sum m |u|^2 / 2 + sum m g (1 - y) (y down, the floor at y = 1) with y at the
    pair's midpoint less g dt^2 / 8 (the parabola's midpoint), E0 the true energy at frame c-1, on pairs whose
    interval holds no contact (a finite difference across a bounce is not a velocity).
Both need every ball of the clip measured in both frames of the pair. Meaningful in elastic worlds
(bouncing_balls, gravity); in push, pushes and friction change both.
"""

from __future__ import annotations

import numpy as np

from worldsim.probes.align import Aligned, masked_mean
from worldsim.probes.contacts import momentum_kicks, since

MIN_P0_FRACTION = 0.1


def _longest_runs(ok: np.ndarray, breaks: np.ndarray, min_frames: int) -> np.ndarray:
    """(N, T) bool: the longest run of consecutive ok frames not split by a break (break at t splits t-1 | t)."""
    n, t_len = ok.shape
    out = np.zeros_like(ok)
    for i in range(n):  # N = clips x balls rows of <= a few dozen frames
        best, start = (0, 0), None
        for t in range(t_len + 1):
            if t < t_len and ok[i, t] and start is not None and not breaks[i, t]:
                continue
            if start is not None and t - start > best[0]:
                best = (t - start, start)
            start = t if t < t_len and ok[i, t] else None
        if best[0] >= min_frames:
            out[i, best[1] : best[1] + best[0]] = True
    return out


def law_fit(a: Aligned, min_frames: int = 10) -> dict[str, float]:
    """law_err: mean |a_hat - a| / |a| over the balls with a free-flight run; law_ratio: mean a_hat / a; n_law."""
    if min_frames < 3:
        raise ValueError(f"min_frames={min_frames}: a parabola needs at least 3 frames (docs/eval.md uses >= 10)")
    g = a.gravity[..., 1]  # (B, T) world units / s^2, downward
    b, t_len, k = a.present.shape
    ok = (a.measured & a.generated[None, :, None] & (np.abs(g) > 0)[..., None]).transpose(0, 2, 1)
    runs = _longest_runs(ok.reshape(b * k, t_len), a.contact.transpose(0, 2, 1).reshape(b * k, t_len), min_frames)
    fitted = runs.any(-1)
    if not fitted.any():
        return {"law_err": float("nan"), "law_ratio": float("nan"), "n_law": 0}
    w = runs[fitted].astype(np.float64)  # (N, T)
    y = np.nan_to_num(a.pos_hat[..., 1].transpose(0, 2, 1).reshape(b * k, t_len)[fitted])
    t = np.arange(t_len) * a.dt
    t = t[None] - np.sum(w * t, -1, keepdims=True) / w.sum(-1, keepdims=True)  # centred per run
    x = np.stack([np.ones_like(t), t, t**2 / 2], -1)  # (N, T, 3)
    coef = np.linalg.solve(np.einsum("nt,nti,ntj->nij", w, x, x), np.einsum("nt,nti,nt->ni", w, x, y)[..., None])[..., 0]
    g_true = np.repeat(g[:, None, :], k, axis=1).reshape(b * k, t_len)[fitted]
    g_true = np.sum(w * g_true, -1) / w.sum(-1)
    return {
        "law_err": float(np.mean(np.abs(coef[:, 2] - g_true) / np.abs(g_true))),
        "law_ratio": float(np.mean(coef[:, 2] / g_true)),
        "n_law": int(fitted.sum()),
    }


def conservation_series(a: Aligned) -> dict[str, np.ndarray]:
    """Per frame pair (B, T-1), pair (t-1, t) at index t-1: momentum_err and its mask momentum_ok, energy_err,
    energy_ratio = E_hat / E0 (1 = conserved, the sign of a drift shows) and their mask energy_ok."""
    c, dt = a.c, a.dt
    live = a.present[:, c - 1]  # (B, K) the balls of the clip
    m0, v0, y0 = a.mass[:, c - 1], a.vel[:, c - 1], a.pos[:, c - 1, :, 1]
    g = a.gravity[:, c - 1, 1]  # (B,)
    mass = np.where(live, m0, 0.0)
    p0 = np.sum(mass[..., None] * v0, axis=1)  # (B, 2)
    e0 = np.sum(0.5 * mass * np.sum(v0**2, -1) + mass * g[:, None] * (1.0 - y0), axis=1)  # (B,)

    u_hat = np.nan_to_num(np.diff(a.pos_hat, axis=1)) / dt  # (B, T-1, K, 2): pair (t-1, t) at index t-1
    m = a.measured
    pair_ok = (m[:, 1:] & m[:, :-1]) | ~live[:, None]
    same = np.all(a.present == live[:, None], -1)  # (B, T) the same balls as at frame c-1
    all_ok = np.all(pair_ok, -1) & a.generated[None, 1:] & same[:, 1:] & same[:, :-1]  # (B, T-1)

    p_hat = np.sum(mass[:, None, :, None] * u_hat, axis=2)  # (B, T-1, 2)
    half = np.arange(1, a.pos.shape[1]) - c + 0.5  # (T-1,) pair midpoints in frames after c-1
    p_exp = p0[:, None] + (mass.sum(-1) * g)[:, None, None] * np.array([0.0, 1.0]) * (half * dt)[None, :, None]
    scale = np.sum(mass * np.linalg.norm(v0, axis=-1), -1)
    p0n = np.linalg.norm(p0, axis=-1)
    p_ok = all_ok & ~since(momentum_kicks(a, dt), c, axis=-1)[:, 1:] & (p0n > MIN_P0_FRACTION * scale)[:, None]
    p_err = np.linalg.norm(p_hat - p_exp, axis=-1) / np.maximum(p0n, 1e-12)[:, None]

    y_mid = (a.pos_hat[:, 1:, :, 1] + a.pos_hat[:, :-1, :, 1]) / 2 - (g * dt**2 / 8)[:, None, None]
    e_hat = np.sum(
        0.5 * mass[:, None] * np.sum(u_hat**2, -1) + mass[:, None] * g[:, None, None] * (1.0 - np.nan_to_num(y_mid)),
        axis=-1,
    )  # (B, T-1)
    e_ok = all_ok & ~np.any(a.contact[:, 1:] & live[:, None], -1)
    e_err = np.abs(e_hat - e0[:, None]) / np.maximum(e0, 1e-12)[:, None]
    ratio = e_hat / np.maximum(e0, 1e-12)[:, None]
    return {"momentum_err": p_err, "momentum_ok": p_ok, "energy_err": e_err, "energy_ratio": ratio, "energy_ok": e_ok}


def conservation(a: Aligned) -> dict[str, float]:
    """momentum_err, energy_err (relative, see the module doc) and the numbers of frame pairs measured."""
    s = conservation_series(a)
    return {
        "momentum_err": masked_mean(s["momentum_err"], s["momentum_ok"]),
        "energy_err": masked_mean(s["energy_err"], s["energy_ok"]),
        "n_momentum": int(s["momentum_ok"].sum()),
        "n_energy": int(s["energy_ok"].sum()),
    }
