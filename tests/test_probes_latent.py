"""Ridge probes: a planted linear map is recovered, noise is not, velocity needs two frames, splits by trajectory."""

import numpy as np
import pytest

from worldsim.probes import as_rows, ridge_probe, velocity_features
from worldsim.probes.latent_probe import split_groups


def test_ridge_recovers_a_planted_map_and_not_noise():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 20, 12))  # 40 trajectories of 20 frames, 12 features
    w = rng.normal(size=(12, 3))
    y = x @ w + 0.01 * rng.normal(size=(40, 20, 3))
    res = ridge_probe(*as_rows(x, y))
    assert res.r2.shape == (3,) and res.r2.min() > 0.99 and res.r2_mean > 0.99
    np.testing.assert_allclose(res.predict(x[0]), y[0], atol=0.1)
    noise = ridge_probe(*as_rows(x, rng.normal(size=(40, 20, 3))))
    assert abs(noise.r2_mean) < 0.05


def test_velocity_needs_two_latent_frames():
    rng = np.random.default_rng(1)
    pos = np.cumsum(rng.normal(size=(30, 16, 2)), axis=1)  # random walks: velocity is not a function of position
    latents = pos @ rng.normal(size=(2, 8))  # (B, T, 8) a linear embedding of position
    vel = np.diff(pos, axis=1)  # frame t-1 -> t
    two = ridge_probe(*as_rows(velocity_features(latents, 2), vel))
    one = ridge_probe(*as_rows(latents[:, 1:], vel))
    assert two.r2_mean > 0.99 and one.r2_mean < 0.5
    assert velocity_features(latents, 3).shape == (30, 14, 24)


def test_split_keeps_each_trajectory_in_one_part():
    groups = np.repeat(np.arange(10), 5)
    train, val, test = split_groups(groups)
    assert (train.astype(int) + val + test == 1).all() and val.any() and test.any()
    for g in range(10):
        parts = {(bool(a), bool(b), bool(c)) for a, b, c in zip(train[groups == g], val[groups == g], test[groups == g])}
        assert len(parts) == 1


def test_probe_bad_input():
    x, y, g = np.zeros((6, 2)), np.zeros((6, 1)), np.arange(6)
    with pytest.raises(ValueError, match="same N rows"):
        ridge_probe(x, y[:5], g)
    with pytest.raises(ValueError, match="at least 3"):
        ridge_probe(x, y, np.zeros(6))
    with pytest.raises(ValueError, match="NaN"):
        ridge_probe(np.full((6, 2), np.nan), y, g)
    with pytest.raises(ValueError, match="window"):
        velocity_features(np.zeros((2, 4, 3)), 1)
    with pytest.raises(ValueError, match=r"\(B, T, F\)"):
        as_rows(np.zeros((2, 4, 3)), np.zeros((2, 5, 1)))


@pytest.mark.parametrize("rows, features", [(30, 80), (80, 30)])
def test_ridge_fit_is_the_closed_form_for_wide_and_tall_features(rows, features):
    from worldsim.probes.latent_probe import ridge_fit

    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(rows, features)), rng.normal(size=(rows, 2))
    lams = [1e-6, 1e-2, 1.0]
    w, (mu, sd, ym) = ridge_fit(x, y, lams)
    xs = (x - mu) / sd
    for wl, lam in zip(w, lams):  # argmin mean ||y - x w||^2 + lam ||w||^2 on standardised, centred data
        np.testing.assert_allclose(wl, np.linalg.solve(xs.T @ xs + rows * lam * np.eye(features), xs.T @ (y - ym)),
                                   atol=1e-8)
