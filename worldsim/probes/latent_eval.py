"""Latent linear probes (docs/eval.md 7) of a predictor's features, beside a random-init encoder and raw pixels.

Targets are per palette colour, so a probe never has to guess which ball a slot means: colour c's probe reads
its ball's exact centre (world units) from the frames of the clips that show it, and its finite-difference
velocity (x_t - x_{t-1}) / dt from two consecutive feature frames (motion_features). Each colour has its own
ridge weights, but the split by trajectory is one split of the clips for all colours, the ridge strength is chosen
on the pooled validation error, and R^2 is computed on the pooled test rows of every colour: a colour seen in a
handful of clips would otherwise give a test set of one or two clips, whose variance about its own mean is too
small for R^2 to mean anything.
"""

from __future__ import annotations

import functools

import numpy as np

from worldsim.probes.latent_probe import LAMBDAS, r2_score, ridge_fit, split_groups

MIN_TRAIN_CLIPS = 2  # a colour's probe is fit only if the training clips show it at least this often


def _per_colour(states):
    """[(colour, clip indices (n,), its centres (n, T, 2))] for each colour shown in every frame of >= 1 clip."""
    colour, present = np.asarray(states.colour), np.asarray(states.present)  # (B, T, K)
    pos = np.asarray(states.pos, np.float64)
    out = []
    for c in np.unique(colour[present]):
        has = (colour == c) & present
        clips = np.flatnonzero(has.any(-1).all(-1))
        slot = np.argmax(has[clips, 0], -1)  # (n,) the slot holding colour c
        out.append((c, clips, np.take_along_axis(pos[clips], slot[:, None, None, None], axis=2)[:, :, 0]))
    return out


def _rows(x, y, mask):
    """The rows (frames) of the clips in mask: x (n, T', F), y (n, T', K) -> (N, F), (N, K)."""
    return x[mask].reshape(-1, x.shape[-1]), y[mask].reshape(-1, y.shape[-1])


def pooled_probe(parts, lambdas=LAMBDAS) -> tuple[float, int]:
    """Mean test R^2 over target dims of per-part ridge probes scored together, and the number of parts fit.

    parts: per colour (x (n, T', F), y (n, T', K), (train, val, test) boolean clip masks (n,)).
    """
    parts = [p for p in parts if p[2][0].sum() >= MIN_TRAIN_CLIPS]
    if not parts:
        return float("nan"), 0
    val_sse = np.zeros(len(lambdas))
    for x, y, (tr, va, _) in parts:
        w, (mu, sd, ym) = ridge_fit(*_rows(x, y, tr), lambdas)
        xv, yv = _rows(x, y, va)
        val_sse += [np.sum(((xv - mu) / sd @ wl + ym - yv) ** 2) for wl in w]
    lam = lambdas[int(np.argmin(val_sse))]
    y_true, y_pred = [], []
    for x, y, (tr, va, te) in parts:  # refit on train + validation with the chosen strength, score on test
        w, (mu, sd, ym) = ridge_fit(*_rows(x, y, tr | va), [lam])
        xt, yt = _rows(x, y, te)
        y_true.append(yt)
        y_pred.append((xt - mu) / sd @ w[0] + ym)
    r2 = r2_score(np.concatenate(y_true), np.concatenate(y_pred))
    return (float(np.nanmean(r2)) if np.isfinite(r2).any() else float("nan")), len(parts)


def motion_features(z) -> np.ndarray:
    """(B, T-1, 2F): frame t's features and their change since t-1. The same information as the two frames side by
    side (velocity_features), re-expressed so the ridge penalty does not fight the difference that motion lives in:
    with [z_{t-1}, z_t] standardised, velocity needs large opposite weights on two nearly equal features."""
    return np.concatenate([z[:, 1:], np.diff(z, axis=1)], axis=-1)


def probe_r2(features, states, dt: float, seed: int = 0) -> dict[str, float]:
    """pos_r2, vel_r2 (pooled test R^2) and n_colours probed, of per-frame features (B, T, ...) against BallState."""
    z = np.asarray(features, np.float64)
    z = z.reshape(z.shape[:2] + (-1,))
    if not np.all(np.isfinite(z)):
        raise ValueError("latents contain NaN or inf: return finite features from predictor.latents")
    train, val, test = split_groups(np.arange(z.shape[0]), seed=seed)  # (B,) one split of the clips for every colour
    cols = _per_colour(states)
    masks = [(train[clips], val[clips], test[clips]) for _, clips, _ in cols]
    pos_r2, n = pooled_probe([(z[clips], p, m) for (_, clips, p), m in zip(cols, masks)])
    vel = [(motion_features(z[clips]), np.diff(p, axis=1) / dt, m) for (_, clips, p), m in zip(cols, masks)]
    vel_r2, _ = pooled_probe(vel)
    return {"pos_r2": pos_r2, "vel_r2": vel_r2, "n_colours": n}


def predictor_latents(predictor, frames, batch: int) -> np.ndarray:
    """predictor.latents over clips in batches, checked to lead with (B, T)."""
    out = []
    for start in range(0, frames.shape[0], batch):
        x = frames[start : start + batch]
        z = np.asarray(predictor.latents(x))
        if z.ndim < 3 or z.shape[:2] != x.shape[:2] or not np.issubdtype(z.dtype, np.number):
            raise ValueError(f"{predictor.name}.latents must return numbers of shape (B, T, ...) = {x.shape[:2]} + (...), "
                             f"got {z.dtype}{z.shape}")
        out.append(z.reshape(z.shape[:2] + (-1,)))
    return np.concatenate(out, 0)


@functools.lru_cache(maxsize=4)
def _random_encoder(resolution: int, seed: int):
    """A random-init tokenizer of the shipped architecture and its jitted encode (built once: init compiles slowly)."""
    from flax import nnx

    from worldsim.tokenizer import Tokenizer, TokenizerConfig

    tok = Tokenizer(TokenizerConfig(resolution=resolution), rngs=nnx.Rngs(seed))
    return tok, nnx.jit(lambda m, x: m.encode(x))


def random_encoder_latents(frames, batch: int, seed: int = 0) -> np.ndarray:
    """Features of a random-init tokenizer encoder of the shipped architecture: what the architecture gives free."""
    tok, enc = _random_encoder(frames.shape[2], seed)
    out = []
    for i in range(0, frames.shape[0], batch):
        x = frames[i : i + batch]
        pad = np.concatenate([x, np.repeat(x[-1:], batch - len(x), 0)]) if len(x) < batch else x  # one compiled shape
        out.append(np.asarray(enc(tok, pad))[: len(x)])
    return np.concatenate(out, 0)


def latent_probes(predictor, episode, batch: int) -> dict[str, dict]:
    """{'model', 'random_encoder', 'pixels'}: probe_r2 of each feature set on one episode's clips."""
    f = np.asarray(episode.frames)
    feats = {
        "model": predictor_latents(predictor, f, batch),
        "random_encoder": random_encoder_latents(f, batch),
        "pixels": f.astype(np.float32) / 255.0,
    }
    return {k: probe_r2(z, episode.states, episode.dt) for k, z in feats.items()}

