"""worldsim's exact physics against an independent engine (pymunk / Chipmunk2D), and its renderer against numpy.

Each scene forces one kind of contact; the trajectories must agree within 0.1 px at 64x64 over 32 frames, and each
test also checks that its contact really happened (in both engines), so none can pass on free flight alone.
"""

import jax
import numpy as np
import pytest

pytest.importorskip("pymunk")

import worldsim.worlds as worlds  # noqa: E402
from worldsim.worlds import reference  # noqa: E402

RES = 64
PX_TOL = 0.1  # pixels at 64x64, max over frames and balls


@pytest.fixture(scope="module")
def runs():
    return {name: reference.compare_scene(name, resolution=RES) for name in reference.SCENES}


def _turn_frames(vel, min_deg=20.0):
    """(K,) list of frame indices t where ball k's velocity direction turned by > min_deg from t-1 to t."""
    a, b = vel[:-1], vel[1:]  # (T-1, K, 2)
    cos = np.sum(a * b, -1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-12)
    return [list(np.flatnonzero(cos[:, k] < np.cos(np.radians(min_deg))) + 1) for k in range(vel.shape[1])]


def _flips(v):
    """Frames t where the 1-D velocity v (T,) changed sign from t-1 to t."""
    return list(np.flatnonzero(np.sign(v[1:]) * np.sign(v[:-1]) < 0) + 1)


@pytest.mark.parametrize("name", list(reference.SCENES))
def test_trajectories_agree(runs, name):
    assert runs[name]["max_px"] < PX_TOL, f"{name}: worldsim and pymunk differ by {runs[name]['max_px']:.3f} px"


@pytest.mark.parametrize("engine", ["worldsim", "pymunk"])
def test_wall_bounce_hits_walls_and_corner(runs, engine):
    r = runs["wall_bounce"]
    vel = r["worldsim"].vel if engine == "worldsim" else r["pymunk_vel"]
    fx, fy = _flips(vel[:, 0, 0]), _flips(vel[:, 0, 1])
    assert len(fx) >= 2 and len(fy) >= 2, (fx, fy)  # both wall pairs hit
    assert abs(fx[0] - fy[0]) <= 1, (fx, fy)  # x and y walls met within a frame: the corner region


@pytest.mark.parametrize("engine", ["worldsim", "pymunk"])
def test_head_on_collision_reverses_both(runs, engine):
    r = runs["head_on"]
    vx = (r["worldsim"].vel if engine == "worldsim" else r["pymunk_vel"])[:, :, 0]  # (T, K)
    t = _flips(vx[:, 0])[0]  # the first reversal of ball 0 is the ball-ball contact (ball 1 flips there too)
    assert t in _flips(vx[:, 1])
    m = np.asarray(r["worldsim"].mass[0])
    assert m[0] != m[1]
    # Unequal masses: the light ball comes back faster than it came in, the heavy one slower.
    assert abs(vx[t, 0]) > abs(vx[t - 1, 0]) and abs(vx[t, 1]) < abs(vx[t - 1, 1])


@pytest.mark.parametrize("engine", ["worldsim", "pymunk"])
def test_oblique_collision_deflects_both(runs, engine):
    r = runs["oblique"]
    vel = r["worldsim"].vel if engine == "worldsim" else r["pymunk_vel"]
    turns = _turn_frames(vel)
    assert turns[0] and turns[1] and turns[0][0] == turns[1][0], turns  # both deflected at the same frame
    t = turns[0][0]
    assert abs(vel[t - 1, 1, 1]) < 1e-6 < abs(vel[t, 1, 1])  # ball 1 gained a y velocity: the contact was oblique


@pytest.mark.parametrize("engine", ["worldsim", "pymunk"])
def test_parabola_falls_and_bounces_off_floor(runs, engine):
    r = runs["parabola"]
    vy = (r["worldsim"].vel if engine == "worldsim" else r["pymunk_vel"])[:, 0, 1]
    flips = _flips(vy)
    assert len(flips) == 1 and vy[flips[0] - 1] > 0, flips  # one bounce, off the floor (falling: vy > 0)
    dt, g = 0.05, 1.0
    np.testing.assert_allclose(np.diff(vy[: flips[0]]), g * dt, atol=1e-4)  # free fall before it


def test_numpy_renderer_matches_worldsim():
    # One random episode (sampling compiles the physics: do it once), checked at 64 px with the occluder, then its
    # states re-rendered by world.render at 32 px without one.
    world = worlds.make("bouncing_balls", resolution=64, num_frames=8, occluder=True)
    ep = world.sample(jax.random.key(7), 4)
    small = worlds.make("bouncing_balls", resolution=32, num_frames=8)
    st = jax.tree.map(np.asarray, ep.states)
    for w, frames in [(world, ep.frames), (small, small.render(ep.states))]:
        res = w.config.resolution
        for b in range(ep.batch_size):
            img = reference.render_numpy(st.pos[b], st.radius[b], st.colour[b], st.present[b], res, w.config.occluder)
            diff = np.abs(img.astype(np.int16) - np.asarray(frames[b]).astype(np.int16))
            assert diff.max() <= 1, f"{res} px, clip {b}: numpy and JAX renders differ by {diff.max()} levels"
