"""Physics measures on clips with known answers (docs/eval.md): the truth scores the floor, copy-last scores the true
speed, an injected drift scores the drift, laws and conservation hold on the truth and fail on copy-last."""

import jax
import numpy as np
import pytest

import worldsim as ws
from worldsim.probes import align, copy_last, measure

RES, C, H = 32, 3, 16  # 32x32 test worlds, 3 conditioning frames, 16 generated frames


@pytest.fixture(scope="module")
def balls():
    world = ws.worlds.make("bouncing_balls", resolution=RES, num_frames=C + H)
    return world, world.sample(jax.random.key(1_000_000), 8)


@pytest.fixture(scope="module")
def grav():
    world = ws.worlds.make("gravity", resolution=RES, num_frames=C + H)
    return world, world.sample(jax.random.key(1_000_001), 8)


def _measure(pred, ep, **kw):
    return measure(pred, ep.frames, ep.states, C, ep.dt, **kw)


def test_ground_truth_scores_the_floor(balls):
    _, ep = balls
    m = _measure(ep.frames, ep)
    px = 1.0 / RES  # one pixel in world units
    assert m["vel_err"] < 0.05 * px / ep.dt  # under 0.05 px per frame
    assert m["ade"] < 0.05 * px and m["fde"] < 0.05 * px
    assert m["horizon"] == H and m["coverage"] == 1.0 and m["missing"] == 0.0
    assert m["count_acc"] == 1.0 and m["colour_acc"] == 1.0 and m["swap_rate"] == 0.0 and m["jump_rate"] == 0.0
    assert m["radius_err"] < 0.05 and m["mse"] == 0.0 and m["ssim"] == pytest.approx(1.0)
    assert m["n_vel"] > 100 and m["n_vel_post"] > 10


def test_copy_last_scores_the_true_speed(balls):
    _, ep = balls
    m = _measure(copy_last(ep.frames, C), ep)
    # Frozen frames have zero tracked velocity, so the error is the true finite-difference speed on the same pairs.
    a = align(ep.frames, ep.frames, ep.states, C, ep.dt)
    u = np.linalg.norm(np.diff(a.pos, axis=1), axis=-1) / ep.dt
    ok = a.measured[:, 1:] & a.measured[:, :-1] & (np.arange(1, C + H) >= C)[None, :, None]
    assert m["vel_err"] == pytest.approx(u[ok].mean(), rel=1e-9)
    assert m["vel_err"] == pytest.approx(m["speed"], rel=1e-12)
    assert m["horizon"] < H / 2 and m["ade"] > 20 * _measure(ep.frames, ep)["ade"]
    assert m["momentum_err"] == pytest.approx(1.0) and m["energy_err"] == pytest.approx(1.0)


def test_injected_drift_scores_the_drift(balls):
    world, ep = balls
    drift = np.array([0.1, -0.05])  # world units / s, from frame c-1 on
    t = np.clip(np.arange(C + H) - (C - 1), 0, None) * ep.dt  # seconds of drift at each frame
    shifted = ep.states._replace(pos=ep.states.pos + t[None, :, None, None] * drift)
    m = _measure(np.asarray(world.render(shifted)), ep)
    speed = np.linalg.norm(drift)
    expected = speed * ep.dt * np.arange(1, H + 1)  # error grows linearly over the generated frames
    np.testing.assert_allclose(m["ade_curve"], expected, atol=0.1 / RES)
    assert m["fde"] == pytest.approx(speed * ep.dt * H, abs=0.1 / RES)
    assert m["vel_err"] == pytest.approx(speed, rel=0.15)
    # The valid horizon ends at the first frame whose drift exceeds the smallest radius of the clip.
    r = np.where(np.asarray(ep.states.present[:, 0]), np.asarray(ep.states.radius[:, 0]), np.inf).min(-1)
    want = np.minimum(np.floor(r / (speed * ep.dt)), H)
    assert np.abs(m["horizon_per_clip"] - want).max() <= 1 and want.min() < H


def test_constant_velocity_from_true_state_is_exact_until_a_collision(balls):
    world, ep = balls
    truth = _measure(ep.frames, ep, pixels=False)
    cv = _measure(ws.probes.constant_velocity_true(ep.states, ep.frames, C, world), ep, pixels=False)
    copy = _measure(copy_last(ep.frames, C), ep, pixels=False)
    assert cv["vel_err_pre"] < 2 * truth["vel_err_pre"] + 1e-3  # only the tracker floor before any contact
    assert cv["vel_err_post"] > 20 * cv["vel_err_pre"] and cv["vel_err_post"] > 0.5 * cv["speed"]
    tracked = _measure(ws.probes.constant_velocity_tracked(ep.frames, C, world), ep, pixels=False)
    for m in (cv, tracked):  # between the floor and copy-last overall
        assert 0 < ws.probes.normalised_score(m["vel_err"], copy["vel_err"], truth["vel_err"]) < 1


def test_gravity_law_fit_and_energy_on_ground_truth(grav):
    _, ep = grav
    m = _measure(ep.frames, ep, pixels=False)
    assert m["n_law"] >= 4 and m["law_err"] < 0.02 and m["law_ratio"] == pytest.approx(1.0, abs=0.02)
    assert m["energy_err"] < 0.02 and m["n_energy"] > 50
    copy = _measure(copy_last(ep.frames, C), ep, pixels=False)
    assert copy["law_err"] == pytest.approx(1.0)  # a frozen ball does not fall
    assert copy["energy_err"] > 5 * m["energy_err"]  # its kinetic energy is gone


def test_conservation_on_ground_truth(balls):
    _, ep = balls
    m = _measure(ep.frames, ep, pixels=False)
    # ~0: only the tracker floor (at 32x32 ~0.02 px per frame of velocity noise, a few % of a slow ball's energy).
    assert m["momentum_err"] < 0.05 and m["energy_err"] < 0.06
    assert m["n_momentum"] > 20 and m["n_energy"] > 50
    assert np.isnan(m["law_err"]) and m["n_law"] == 0  # no gravity: no law fit


def test_contacts_are_exact(balls):
    world, _ = balls
    ep, walls = world.sample_with_contacts(jax.random.key(1_000_000), 8)
    hits = ws.probes.contacts(ep.states, ep.dt)
    kicks = ws.probes.momentum_kicks(ep.states, ep.dt)
    assert np.array_equal(kicks, np.asarray(walls) > 0)  # total momentum changes exactly at wall contacts
    assert np.all(hits.any(-1)[np.asarray(walls) > 0])


def test_teleport_is_flagged_as_a_jump():
    world = ws.worlds.make("bouncing_balls", resolution=RES, num_frames=C + H)
    pair = world.sample_violations(jax.random.key(1_000_002), 8, "teleport")
    for clip, expect in ((pair.impossible, True), (pair.possible, False)):
        per = ws.probes.objects(ws.probes.track(clip.frames), clip.states.colour)
        jumps = ws.probes.position_jumps(per)  # (B, T, K) no truth needed
        assert jumps.sum() == (len(pair.frame) if expect else 0)
        if expect:
            assert all(jumps[b, pair.frame[b], pair.ball[b]] for b in range(len(pair.frame)))
    m = measure(pair.impossible.frames, pair.possible.frames, pair.possible.states, 1, world.config.dt, pixels=False)
    assert m["jump_rate"] > 0 and m["horizon"] < C + H - 1


def test_colour_swap_is_detected(balls):
    world, ep = balls
    multi = np.asarray(ep.states.present[:, 0, 1])  # clips with at least two balls
    colour = np.asarray(ep.states.colour).copy()
    later = np.arange(C + H) >= C + 4
    swap = multi[:, None] & later[None]  # (B, T): balls 0 and 1 exchange colours from frame c+4
    colour[..., [0, 1]] = np.where(swap[..., None], colour[..., [1, 0]], colour[..., [0, 1]])
    m = _measure(np.asarray(world.render(ep.states._replace(colour=colour))), ep, pixels=False)
    assert multi.any() and m["clips_with_swap"] == pytest.approx(multi.mean())
    assert m["count_acc"] == 1.0 and m["jump_rate"] > 0 and m["vel_err"] > 0.1
    assert _measure(ep.frames, ep, pixels=False)["clips_with_swap"] == 0.0


def test_measures_on_bad_input(balls):
    _, ep = balls
    f, s = np.asarray(ep.frames), ep.states
    cases = [
        ((f[:0], f[:0], s, C, ep.dt), "empty"),
        ((f[:, :-1], f, s, C, ep.dt), "differ"),
        ((f[..., :16, :], f[..., :16, :], s, C, ep.dt), "square"),
        ((f.astype(np.float32), f, s, C, ep.dt), "uint8"),
        ((f[0], f[0], s, C, ep.dt), r"\(B, T, H, W, 3\)"),
        ((f, f, s, 0, ep.dt), "c=0"),
        ((f, f, s, C + H, ep.dt), "out of range"),
        ((f, f, s, C, 0.0), "dt"),
        ((f[:, :-1], f[:, :-1], s, C, ep.dt), "same clips"),
        ((np.zeros_like(f), np.zeros_like(f), s, C, ep.dt), "no ball is visible"),
    ]
    for args, match in cases:
        with pytest.raises(ValueError, match=match):
            measure(*args)
