"""Pixel measures, secondary (docs/eval.md measure 6): MSE, PSNR and SSIM of frames against the truth, in jnp.

Frames are uint8 (..., H, W, 3), compared as floats in [0, 1] (data range 1). SSIM follows Wang et al. 2004:
an 11-tap gaussian window (sigma 1.5, shrunk to the frame if smaller), K1 = 0.01, K2 = 0.03, computed per colour
channel over the 'valid' window positions and averaged.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from worldsim.probes.align import check_c, check_clip

K1, K2 = 0.01, 0.03


def _float_pair(pred, truth):
    pred, truth = np.asarray(pred), np.asarray(truth)
    if pred.shape != truth.shape:
        raise ValueError(f"pred {pred.shape} and truth {truth.shape} must have the same shape (..., H, W, 3)")
    if pred.ndim < 3 or pred.shape[-1] != 3 or pred.size == 0:
        raise ValueError(f"frames must be non-empty uint8 (..., H, W, 3), got shape {pred.shape}")
    if pred.dtype != np.uint8 or truth.dtype != np.uint8:
        raise ValueError(f"frames must be uint8, got {pred.dtype} and {truth.dtype}: use (x * 255).round().astype(np.uint8)")
    return jnp.asarray(pred, jnp.float32) / 255.0, jnp.asarray(truth, jnp.float32) / 255.0


def mse(pred, truth) -> jax.Array:
    """(...,) per-frame mean squared error over pixels and channels, [0, 1] units."""
    p, t = _float_pair(pred, truth)
    return jnp.mean((p - t) ** 2, axis=(-3, -2, -1))


def psnr(pred, truth) -> jax.Array:
    """(...,) per-frame peak signal-to-noise ratio in dB (data range 1); inf for identical frames."""
    return -10.0 * jnp.log10(mse(pred, truth))


def gaussian_window(size: int = 11, sigma: float = 1.5) -> jax.Array:
    """(size,) normalised 1-D gaussian taps."""
    x = jnp.arange(size, dtype=jnp.float32) - (size - 1) / 2
    w = jnp.exp(-(x**2) / (2 * sigma**2))
    return w / w.sum()


@jax.jit
def _ssim(p: jax.Array, t: jax.Array, win: jax.Array) -> jax.Array:
    n = win.shape[0]

    def blur(x):  # separable 'valid' filter over H then W of (..., H, W, 3)
        h, w = x.shape[-3], x.shape[-2]
        x = sum(win[i] * x[..., i : h - n + 1 + i, :, :] for i in range(n))
        return sum(win[i] * x[..., :, i : w - n + 1 + i, :] for i in range(n))

    mu_p, mu_t = blur(p), blur(t)
    # (Co)variances are shift-invariant: take them of images centred on their own means (less float32 cancellation).
    p0 = p - jnp.mean(p, axis=(-3, -2), keepdims=True)
    t0 = t - jnp.mean(t, axis=(-3, -2), keepdims=True)
    m_p, m_t = blur(p0), blur(t0)
    var_p = blur(p0 * p0) - m_p**2
    var_t = blur(t0 * t0) - m_t**2
    cov = blur(p0 * t0) - m_p * m_t
    c1, c2 = K1**2, K2**2
    s = ((2 * mu_p * mu_t + c1) * (2 * cov + c2)) / ((mu_p**2 + mu_t**2 + c1) * (var_p + var_t + c2))
    return jnp.mean(s, axis=(-3, -2, -1))


def ssim(pred, truth, size: int = 11, sigma: float = 1.5) -> jax.Array:
    """(...,) per-frame structural similarity in [-1, 1]; 1 for identical frames."""
    p, t = _float_pair(pred, truth)
    size = min(size, p.shape[-3], p.shape[-2])
    size -= 1 - size % 2  # odd
    return _ssim(p, t, gaussian_window(size, sigma))


def pixel_measures(pred, truth, c: int) -> dict[str, float]:
    """Over clips and generated frames t >= c of (B, T, H, W, 3) clips: mse and ssim (means of per-frame values)
    and psnr (dB) of that mean mse (a mean of per-frame PSNRs is inf as soon as one frame is exact)."""
    pred, truth = check_clip(pred, "pred"), check_clip(truth, "truth")
    if pred.shape != truth.shape:
        raise ValueError(f"pred {pred.shape} and truth {truth.shape} differ: pass whole clips of the same shape")
    c = check_c(c, truth.shape[1])
    p, t = pred[:, c:], truth[:, c:]
    err = float(jnp.mean(mse(p, t)))
    peak = float(-10.0 * np.log10(err)) if err > 0 else float("inf")
    return {"mse": err, "psnr": peak, "ssim": float(jnp.mean(ssim(p, t)))}
