"""Pixel measures against known answers: identical frames, a shift, constant images, a known MSE."""

import numpy as np
import pytest

from worldsim.probes import mse, pixel_measures, psnr, ssim


def _scene(seed=0, size=32):
    rng = np.random.default_rng(seed)
    img = np.zeros((size, size, 3), np.uint8)
    for _ in range(4):  # a few bright squares on black
        y, x = rng.integers(0, size - 8, 2)
        img[y : y + 8, x : x + 8] = rng.integers(64, 256, 3)
    return img


def test_ssim_identical_is_one_and_shift_is_less():
    img = _scene()
    assert float(ssim(img, img)) == pytest.approx(1.0, abs=1e-6)
    shifted = np.roll(img, 2, axis=1)
    s = float(ssim(shifted, img))
    assert 0.0 < s < 0.9
    assert float(ssim(np.roll(img, 1, axis=1), img)) > s  # a smaller shift is more similar


def test_ssim_of_constant_images_matches_the_formula():
    a, b = 0.2, 0.6  # constant images: no variance, SSIM = (2ab + C1) / (a^2 + b^2 + C1)
    x = np.full((16, 16, 3), round(a * 255), np.uint8)
    y = np.full((16, 16, 3), round(b * 255), np.uint8)
    a, b = round(a * 255) / 255, round(b * 255) / 255
    c1 = 0.01**2
    assert float(ssim(x, y)) == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), rel=1e-4)


def test_mse_and_psnr_known_values():
    x = np.zeros((2, 8, 8, 3), np.uint8)
    y = np.full((2, 8, 8, 3), 51, np.uint8)  # 0.2 everywhere: MSE 0.04, PSNR 13.98 dB
    np.testing.assert_allclose(mse(x, y), 0.04, rtol=1e-5)
    np.testing.assert_allclose(psnr(x, y), -10 * np.log10(0.04), rtol=1e-5)
    assert np.isinf(float(psnr(x, x)[0]))
    clip = np.stack([x, y], 1)  # (2 clips, 2 frames, ...)
    m = pixel_measures(clip, np.stack([x, x], 1), c=1)
    assert m["mse"] == pytest.approx(0.04, rel=1e-5) and m["psnr"] == pytest.approx(13.979, abs=1e-3)


def test_pixel_bad_input():
    x = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="same shape"):
        ssim(x, np.zeros((8, 9, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        mse(x.astype(np.float32), x)
    with pytest.raises(ValueError, match="out of range"):
        pixel_measures(np.zeros((1, 2, 8, 8, 3), np.uint8), np.zeros((1, 2, 8, 8, 3), np.uint8), c=2)


def test_ssim_matches_a_float64_reference():
    """Wang et al.'s SSIM as skimage computes it (gaussian_weights=True): scipy's gaussian filter, border cropped."""
    ndimage = pytest.importorskip("scipy.ndimage")
    x, y = _scene(1), _scene(2)
    p, t = x / 255.0, y / 255.0
    blur = lambda z: ndimage.gaussian_filter(z, sigma=(1.5, 1.5, 0), truncate=3.5, mode="reflect")[5:-5, 5:-5]  # noqa: E731
    mp, mt = blur(p), blur(t)
    vp, vt, cov = blur(p * p) - mp**2, blur(t * t) - mt**2, blur(p * t) - mp * mt
    c1, c2 = 0.01**2, 0.03**2
    ref = np.mean((2 * mp * mt + c1) * (2 * cov + c2) / ((mp**2 + mt**2 + c1) * (vp + vt + c2)))
    assert float(ssim(x, y)) == pytest.approx(ref, abs=1e-4)
