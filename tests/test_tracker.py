"""The colour-centroid tracker: its floor on ground-truth frames, flags, and bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import worldsim as ws
from worldsim.probes import floor_error


@pytest.mark.parametrize("resolution, bound", [(32, 0.1), (64, 0.1)])
def test_floor_on_ground_truth_frames(resolution, bound):
    world = ws.worlds.make("bouncing_balls", resolution=resolution, num_frames=12)
    ep = world.sample(jax.random.key(123), 32)
    f = floor_error(ep.frames, ep.states, resolution)
    assert f["mean_px"] < bound
    assert f["radius_mean_px"] < 0.1
    assert f["presence_accuracy"] == 1.0  # the object count is right in every frame
    assert f["valid_fraction"] > 0.5


def test_tracks_are_per_colour_in_pixel_coordinates():
    world = ws.worlds.make("bouncing_balls", resolution=64)
    s = ws.worlds.ball_states(pos=[[[0.25, 0.5], [0.75, 0.3]]], radius=0.08, colour=[[3, 5]])
    tr = ws.probes.track(world.render(s))
    assert tr.pos.shape == (1, 6, 2)
    assert np.asarray(tr.present[0]).tolist() == [False, False, False, True, False, True]
    np.testing.assert_allclose(tr.pos[0, 3], [0.25 * 64 - 0.5, 0.5 * 64 - 0.5], atol=0.05)
    np.testing.assert_allclose(tr.pos[0, 5], [0.75 * 64 - 0.5, 0.3 * 64 - 0.5], atol=0.05)
    np.testing.assert_allclose(tr.radius[0, 3], 0.08 * 64, atol=0.1)
    assert not bool(jnp.any(tr.overlap | tr.border))


def test_flags_touching_balls_border_and_occluder():
    world = ws.worlds.make("bouncing_balls", resolution=64, occluder=True)
    touching = ws.worlds.ball_states(pos=[[[0.2, 0.2], [0.36, 0.2]]], radius=0.08, colour=[[0, 1]])
    border = ws.worlds.ball_states(pos=[[[0.08, 0.8]]], radius=0.08, colour=[[2]])
    near_bar = ws.worlds.ball_states(pos=[[[0.36, 0.7]]], radius=0.08, colour=[[4]])
    t1, t2, t3 = (ws.probes.track(world.render(s)) for s in (touching, border, near_bar))
    assert bool(t1.overlap[0, 0]) and bool(t1.overlap[0, 1])
    assert bool(t2.border[0, 2]) and not bool(t2.overlap[0, 2])
    assert bool(t3.occluded[0, 4]) and not bool(t3.valid[0, 4])


def test_objects_reindexes_by_colour():
    world = ws.worlds.make("bouncing_balls", resolution=32, num_frames=4)
    ep = world.sample(jax.random.key(0), 2)
    per = ws.probes.objects(ws.probes.track(ep.frames), ep.states.colour)
    assert per.pos.shape == ep.states.pos.shape
    assert np.array_equal(np.asarray(per.present), np.asarray(ep.states.present))


@pytest.mark.parametrize(
    "frames, match",
    [
        (np.zeros((4, 4, 3), np.float32), "must be uint8"),
        (np.zeros((4, 4), np.uint8), r"\(\.\.\., H, W, 3\)"),
        (np.zeros((8, 8, 4), np.uint8), r"\(\.\.\., H, W, 3\)"),
        (np.zeros((2, 2, 3), np.uint8), "too small"),
    ],
)
def test_tracker_bad_input(frames, match):
    with pytest.raises(ValueError, match=match):
        ws.probes.track(frames)
