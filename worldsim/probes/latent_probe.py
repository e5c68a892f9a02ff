"""Linear (ridge) probes from latents to physical state (docs/eval.md measure 7), split by trajectory.

    feats = velocity_features(latents, window=2)             # (B, T-1, 2F): frames t-1 and t side by side
    x, y, groups = as_rows(feats, vel[:, 1:].reshape(B, T - 1, -1))
    result = ridge_probe(x, y, groups)                       # result.r2 (K,), result.r2_mean

Rows of one trajectory (group) never straddle train / validation / test, so a probe cannot pass by remembering a
clip. Ridge is closed-form, fit on standardised features: W = argmin mean ||y - x W||^2 + lam ||W||^2; lam is the
grid value with the best validation R^2, then the probe is refit on train + validation and scored on test.
R^2 = 1 - SS_res / SS_tot per target (SS_tot about the test mean); r2_mean is their uniform average.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

LAMBDAS = tuple(10.0**e for e in range(-6, 3))  # the validation grid (per-row scale: see the module doc)


class ProbeResult(NamedTuple):
    r2: np.ndarray  # (K,) test R^2 per target
    r2_mean: float  # uniform average of r2
    lam: float  # the chosen ridge strength
    val_r2: np.ndarray  # (len(lambdas),) mean validation R^2 along the grid
    weights: np.ndarray  # (F, K) on standardised features: y = ((x - x_mean) / x_scale) @ weights + y_mean
    x_mean: np.ndarray  # (F,)
    x_scale: np.ndarray  # (F,)
    y_mean: np.ndarray  # (K,)
    n_train: int  # rows in train + validation (the final fit)
    n_test: int

    def predict(self, features) -> np.ndarray:
        """(N, K) predictions for (N, F) features."""
        return (np.asarray(features, np.float64) - self.x_mean) / self.x_scale @ self.weights + self.y_mean


def r2_score(y_true, y_pred) -> np.ndarray:
    """(K,) coefficient of determination per target of (N, K) arrays; NaN for a constant target."""
    y_true, y_pred = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    ss_res = np.sum((y_true - y_pred) ** 2, 0)
    ss_tot = np.sum((y_true - y_true.mean(0)) ** 2, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.nan)


def ridge_fit(x, y, lams):
    """Standardise, centre, and solve ridge for every lam through one SVD. Returns (weights (L, F, K), stats).

    With more features than rows (pixels, big latents) the same solution comes from the rows' Gram matrix,
    W = X^T (X X^T + n lam)^-1 Y: an N x N eigendecomposition instead of an SVD of the wide X (~20x faster)."""
    mu, sd = x.mean(0), x.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    ym = y.mean(0)
    xs, yc = (x - mu) / sd, y - ym
    n, lams = x.shape[0], np.asarray(lams, np.float64)[:, None]
    if xs.shape[1] > n:
        ev, u = np.linalg.eigh(xs @ xs.T)  # (N,), (N, N): X X^T = U diag(ev) U^T, ev = s^2
        den = ev[None] + n * lams  # (L, N)
        inv = np.where(den > 1e-12 * max(ev.max(), 1e-300), 1.0 / np.where(den > 0, den, 1.0), 0.0)  # pinv at lam = 0
        return np.matmul(xs.T[None], u @ (inv[:, :, None] * (u.T @ yc)[None])), (mu, sd, ym)
    u, s, vt = np.linalg.svd(xs, full_matrices=False)
    shrink = s[None] / (s[None] ** 2 + n * lams)  # (L, R)
    return np.matmul(vt.T[None], shrink[:, :, None] * (u.T @ yc)[None]), (mu, sd, ym)


def split_groups(groups, val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0):
    """Boolean row masks (train, val, test) with each group wholly in one part (at least one group per part)."""
    groups = np.asarray(groups)
    ids = np.unique(groups)
    if ids.size < 3:
        raise ValueError(f"only {ids.size} trajectory group(s): a split by trajectory needs at least 3 (pass more clips)")
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError("val_fraction and test_fraction must be in (0, 1) with a sum below 1")
    ids = np.random.default_rng(seed).permutation(ids)
    n_test = max(1, round(test_fraction * ids.size))
    n_val = max(1, min(round(val_fraction * ids.size), ids.size - n_test - 1))
    test, val = np.isin(groups, ids[:n_test]), np.isin(groups, ids[n_test : n_test + n_val])
    return ~(test | val), val, test


def ridge_probe(features, targets, groups, *, lambdas=LAMBDAS, val_fraction=0.2, test_fraction=0.2, seed=0):
    """Fit and score a ridge probe from features (N, F) to targets (N, K) (or (N,)), split by groups (N,)."""
    x, y, groups = np.asarray(features, np.float64), np.asarray(targets, np.float64), np.asarray(groups)
    y = y[:, None] if y.ndim == 1 else y
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"features must be (N, F) and targets (N, K) with N > 0, got {x.shape} and {y.shape}: "
                         "flatten clips with as_rows")
    if not (x.shape[0] == y.shape[0] == groups.shape[0]) or groups.ndim != 1:
        raise ValueError(f"features {x.shape}, targets {y.shape} and groups {groups.shape} need the same N rows")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("features or targets contain NaN or inf: drop those rows (e.g. absent balls) first")
    if len(lambdas) == 0 or min(lambdas) < 0:
        raise ValueError("lambdas must be a non-empty sequence of values >= 0")
    train, val, test = split_groups(groups, val_fraction, test_fraction, seed)
    w_all, (mu, sd, ym) = ridge_fit(x[train], y[train], lambdas)
    val_r2 = np.array([np.nanmean(r2_score(y[val], (x[val] - mu) / sd @ w + ym)) for w in w_all])
    best = int(np.nanargmax(np.where(np.isnan(val_r2), -np.inf, val_r2)))
    fit = train | val
    w, (mu, sd, ym) = ridge_fit(x[fit], y[fit], [lambdas[best]])
    res = ProbeResult(None, 0.0, float(lambdas[best]), val_r2, w[0], mu, sd, ym, int(fit.sum()), int(test.sum()))
    r2 = r2_score(y[test], res.predict(x[test]))
    return res._replace(r2=r2, r2_mean=float(np.nanmean(r2)))


def velocity_features(latents, window: int = 2) -> np.ndarray:
    """(B, T-window+1, window*F) the latents of `window` consecutive frames side by side, aligned to the last.

    latents: (B, T, ...) any per-frame latent (its trailing axes are flattened to F). Velocity needs window >= 2:
    a single frame holds position, not motion. Row j holds frames j .. j+window-1: pair it with targets at
    frame j + window - 1 (targets[:, window-1:]).
    """
    z = np.asarray(latents)
    if z.ndim < 3 or z.size == 0:
        raise ValueError(f"latents must be (B, T, ...) with at least one feature, got shape {z.shape}")
    if not isinstance(window, int) or not 2 <= window <= z.shape[1]:
        raise ValueError(f"window={window!r}: velocity needs an integer window >= 2 and <= T = {z.shape[1]} frames")
    z = z.reshape(z.shape[0], z.shape[1], -1)
    t_out = z.shape[1] - window + 1
    return np.concatenate([z[:, i : i + t_out] for i in range(window)], axis=-1)


def as_rows(features, targets):
    """(B, T, F) features and (B, T, K) targets -> rows X (B*T, F), Y (B*T, K) and groups (B*T,) = the clip index."""
    f, t = np.asarray(features), np.asarray(targets)
    if f.ndim != 3 or t.ndim != 3 or f.shape[:2] != t.shape[:2]:
        raise ValueError(f"features (B, T, F) and targets (B, T, K) must share (B, T), got {f.shape} and {t.shape}")
    b, n = f.shape[:2]
    return f.reshape(b * n, -1), t.reshape(b * n, -1), np.repeat(np.arange(b), n)
