"""Baselines: shapes and conditioning frames, the normalised score, bad input (the scored runs are in
test_probes_measures.py)."""

import jax
import numpy as np
import pytest

import worldsim as ws
from worldsim.probes import copy_last, normalised_score, oracle


def test_normalised_score():
    assert normalised_score(0.5, 1.0, 0.0) == 0.5
    assert normalised_score(1.0, 1.0, 0.1) == 0.0 and normalised_score(0.1, 1.0, 0.1) == 1.0
    assert normalised_score(2.0, 1.0, 0.0) == -1.0  # worse than copy-last
    assert np.isnan(normalised_score(0.3, 0.2, 0.2))  # the measure cannot separate copy-last from the floor
    np.testing.assert_allclose(normalised_score(np.array([0.0, 1.0]), 1.0, 0.0), [1.0, 0.0])


def test_copy_last_and_oracle():
    f = np.random.default_rng(0).integers(0, 256, (2, 5, 8, 8, 3), dtype=np.uint8)
    out = copy_last(f, 2)
    assert np.array_equal(out[:, :2], f[:, :2]) and all(np.array_equal(out[:, t], f[:, 1]) for t in range(2, 5))
    assert np.array_equal(oracle(f), f) and oracle(f) is not f


def test_constant_velocity_baselines_keep_the_conditioning_frames():
    world = ws.worlds.make("bouncing_balls", resolution=32, num_frames=19)
    ep = world.sample(jax.random.key(1_000_000), 8)
    f = np.asarray(ep.frames)
    true_cv = ws.probes.constant_velocity_true(ep.states, f, 3, world)
    tracked = ws.probes.constant_velocity_tracked(f, 3, world)
    for out in (true_cv, tracked):
        assert out.shape == f.shape and out.dtype == np.uint8 and np.array_equal(out[:, :3], f[:, :3])
    # The first generated frame of the true-state baseline is the truth unless a contact happened in between.
    hit = ws.probes.contacts(ep.states, ep.dt)[:, 3].any(-1)
    assert all(np.array_equal(true_cv[b, 3], f[b, 3]) for b in np.flatnonzero(~hit))
    with pytest.raises(ValueError, match="resolution"):
        ws.probes.constant_velocity_tracked(f[:, :, :16, :16], 3, world)
    with pytest.raises(ValueError, match="World"):
        ws.probes.constant_velocity_tracked(f, 3, object())
    with pytest.raises(ValueError, match="out of range"):
        copy_last(f, 19)
