"""Property-based checks of the physics on arbitrary (hypothesis-chosen) two- and three-ball scenes."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import worldsim as ws
from worldsim.worlds import dynamics

CFG = ws.worlds.make("bouncing_balls", num_balls=(3, 3), num_frames=32).config


@functools.cache
def _simulate():
    return jax.jit(lambda s0: dynamics.simulate(CFG, s0, jnp.zeros((CFG.num_frames, 0)))[0])


coord = st.floats(0.15, 0.85)
vel = st.floats(-1.5, 1.5)
rad = st.floats(0.03, 0.1)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(coord, coord, vel, vel, rad), min_size=3, max_size=3), st.floats(0.0, 2.0))
def test_any_scene_conserves_energy_and_never_overlaps(balls, gravity):
    pos = np.array([[b[0], b[1]] for b in balls], np.float32)
    r = np.array([b[4] for b in balls], np.float32)
    pos = np.clip(pos, r[:, None], 1 - r[:, None])
    for i in range(3):  # overlapping starts are illegal scenes: let hypothesis draw another
        for j in range(i):
            assume(np.linalg.norm(pos[i] - pos[j]) > r[i] + r[j] + 1e-3)
    s0 = ws.worlds.ball_states(
        pos, r, np.arange(3), vel=np.array([[b[2], b[3]] for b in balls], np.float32),
        gravity=np.array([0.0, gravity], np.float32),
    )
    states = _simulate()(s0)
    e = np.asarray(ws.worlds.kinetic_energy(states) + ws.worlds.potential_energy(states))
    assert np.max(np.abs(e - e[0])) <= 1e-4 * max(e[0], 1e-3)
    p, rr = np.asarray(states.pos), np.asarray(states.radius)
    for i in range(3):
        for j in range(i):
            gap = np.linalg.norm(p[:, i] - p[:, j], axis=-1) - (rr[:, i] + rr[:, j])
            assert gap.min() > -0.01 * min(r[i], r[j])
    assert np.all(p >= rr[..., None] - 1e-6) and np.all(p <= 1 - rr[..., None] + 1e-6)
