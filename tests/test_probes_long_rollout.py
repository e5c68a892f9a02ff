"""Long-rollout invariants (docs/eval.md measure 10) on clips with known answers: the truth keeps everything, a slowed
replay has the slowing as its speed ratio, a ball erased halfway is missing from then on, shrunken balls shrink."""

import jax
import numpy as np
import pytest

import worldsim as ws
from worldsim.probes import align, copy_last
from worldsim.probes.long_rollout import long_rollout

RES, C, H = 32, 3, 29


@pytest.fixture(scope="module")
def balls():
    world = ws.worlds.make("bouncing_balls", resolution=RES, num_frames=C + H, num_balls=(2, 2))
    return world, world.sample(jax.random.key(7), 8)


def _long(pred, ep):
    return long_rollout(align(np.asarray(pred), ep.frames, ep.states, C, ep.dt))


def test_the_truth_keeps_every_invariant(balls):
    _, ep = balls
    m = _long(ep.frames, ep)
    assert m["count_acc_all"] == 1.0 and m["found"] == 1.0
    assert m["speed_ratio"] == pytest.approx(1.0, abs=0.02) and m["speed_ratio_late"] == pytest.approx(1.0, abs=0.02)
    assert m["radius_ratio_end"] == pytest.approx(1.0, abs=0.02)
    assert m["energy_ratio"] == pytest.approx(m["truth_energy_ratio"], rel=0.1)
    assert m["speed_ratio_curve"].shape == (H,) and m["count_curve"].shape == (H,)


def test_a_slowed_replay_has_its_slowing_as_speed_ratio(balls):
    world, ep = balls
    # Every ball moves on from frame c - 1 at 0.6 of its speed, in a straight line (no walls in 29 frames? some:
    # the ratio is measured on steps both clips track, so bounces shift it a little).
    t = np.clip(np.arange(C + H) - (C - 1), 0, None) * ep.dt
    pos = ep.states.pos[:, C - 1 : C] + 0.6 * t[None, :, None, None] * ep.states.vel[:, C - 1 : C]
    pos = np.where(np.arange(C + H)[None, :, None, None] < C, ep.states.pos, pos)
    pos = np.clip(pos, 0.12, 0.88)  # stays inside the box: a straight slowed line, then rests at a wall
    slow = np.asarray(world.render(ep.states._replace(pos=pos)))
    m = _long(slow, ep)
    assert 0.45 < m["speed_ratio"] < 0.75
    assert _long(copy_last(ep.frames, C), ep)["speed_ratio"] == pytest.approx(0.0, abs=1e-6)
    assert _long(copy_last(ep.frames, C), ep)["energy_ratio"] == pytest.approx(0.0, abs=1e-6)


def test_an_erased_ball_is_missing_and_a_shrunken_one_shrinks(balls):
    world, ep = balls
    half = C + H // 2
    gone = np.asarray(ep.states.present).copy()
    gone[:, half:, 0] = False  # the first ball vanishes halfway through the generated frames
    m = _long(np.asarray(world.render(ep.states._replace(present=gone))), ep)
    assert m["found"] == pytest.approx(1 - 0.5 * (C + H - half) / H, abs=0.02)
    assert m["count_curve"][: half - C].mean() == 1.0 and m["count_curve"][half - C :].mean() == 0.0
    assert m["energy_ratio"] < 0.8 * m["truth_energy_ratio"]
    small = ep.states._replace(radius=np.where(np.arange(C + H)[None, :, None] < C, ep.states.radius,
                                               0.8 * ep.states.radius))
    assert _long(np.asarray(world.render(small)), ep)["radius_ratio_end"] == pytest.approx(0.8, abs=0.05)


def test_the_occluder_is_kept_or_erased():
    from worldsim.probes.long_rollout import scenery_kept

    world = ws.worlds.make("bouncing_balls", resolution=RES, num_frames=8, occluder=True)
    ep = world.sample(jax.random.key(2), 4)
    truth = np.asarray(ep.frames)
    assert scenery_kept(truth, truth) == 1.0
    erased = truth.copy()
    erased[:, -1] = 0  # the last frame lost everything, the bar included
    assert scenery_kept(erased, truth) == 0.0
    plain = np.asarray(ws.worlds.make("bouncing_balls", resolution=RES, num_frames=8).sample(jax.random.key(2), 4).frames)
    assert np.isnan(scenery_kept(plain, plain))
