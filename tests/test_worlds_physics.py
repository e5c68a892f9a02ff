"""Exactness of the ground-truth physics: conservation, no overlap, inside the box, parabolas, pushes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import worldsim as ws
from worldsim.worlds import dynamics
from worldsim.worlds.init import initial_state


@pytest.fixture(scope="module")
def balls():
    world = ws.worlds.make("bouncing_balls", num_balls=(4, 4), resolution=32)
    ep, walls = world.sample_with_contacts(jax.random.key(11), 128)
    return ep, np.asarray(walls)


def test_energy_conserved_in_float32(balls):
    ep, _ = balls
    e = np.asarray(ws.worlds.kinetic_energy(ep.states))
    assert np.max(np.abs(e - e[:, :1]) / e[:, :1]) < 1e-4


def test_momentum_conserved_when_no_wall_is_touched(balls):
    ep, walls = balls
    p = np.asarray(ws.worlds.momentum(ep.states))  # (B,T,2)
    s = ep.states
    scale = np.asarray(jnp.sum(jnp.where(s.present, s.mass * jnp.linalg.norm(s.vel, axis=-1), 0), -1))
    change = np.linalg.norm(p[:, 1:] - p[:, :-1], axis=-1) / scale[:, :-1]
    free = walls[:, 1:] == 0
    # The scenes must contain ball-ball collisions for this to mean anything: velocities change in free frames.
    dv = np.abs(np.asarray(s.vel[:, 1:] - s.vel[:, :-1])).max(axis=(-1, -2))
    assert np.sum(free & (dv > 1e-3)) > 20
    assert np.max(change[free]) < 1e-4


def test_balls_never_overlap_or_leave_the_box(balls):
    ep, _ = balls
    pos, r, present = (np.asarray(x) for x in (ep.states.pos, ep.states.radius, ep.states.present))
    k = pos.shape[2]
    i, j = np.triu_indices(k, 1)
    dist = np.linalg.norm(pos[:, :, i] - pos[:, :, j], axis=-1)
    depth = (r[:, :, i] + r[:, :, j] - dist) / np.minimum(r[:, :, i], r[:, :, j])
    both = present[:, :, i] & present[:, :, j]
    assert np.max(depth[both]) < 0.01
    lo, hi = pos - r[..., None], pos + r[..., None]
    assert np.all((lo >= -1e-6) & (hi <= 1 + 1e-6) | ~present[..., None])


def test_gravity_energy_and_parabolas():
    world = ws.worlds.make("gravity", num_balls=(1, 1), resolution=32)
    ep, walls = world.sample_with_contacts(jax.random.key(3), 64)
    s = ep.states
    e = np.asarray(ws.worlds.kinetic_energy(s) + ws.worlds.potential_energy(s))
    assert np.max(np.abs(e - e[:, :1]) / e[:, :1]) < 1e-4
    # Free flight between contacts: second differences of y are exactly g dt^2.
    y = np.asarray(s.pos[:, :, 0, 1])
    walls = np.asarray(walls)
    free = (walls[:, 1:-1] == 0) & (walls[:, 2:] == 0)
    acc = (y[:, 2:] - 2 * y[:, 1:-1] + y[:, :-2]) / world.config.dt**2
    assert free.sum() > 500
    np.testing.assert_allclose(acc[free], world.config.gravity, atol=0.02)


def test_push_action_drives_the_agent_and_is_clipped():
    world = ws.worlds.make("push", num_balls=(1, 1), speed=(0.0, 0.0))
    one = world.reset(jax.random.key(0), batch_size=1)
    s = jax.tree.map(lambda x: jnp.repeat(x, 3, axis=0), one)  # three copies of one state
    s = s._replace(pos=s.pos.at[:, 0].set(0.5))  # the agent in the middle, at rest
    after = world.step(s, jnp.array([[1.0, 0.0], [-1.0, 0.0], [5.0, 0.0]]))
    vx = np.asarray(after.vel[:, 0, 0])
    assert vx[0] > 0 > vx[1]
    np.testing.assert_allclose(vx[2], vx[0], rtol=1e-6)  # 5 is clipped to 1
    expected = world.config.max_force * world.config.dt / np.asarray(s.mass[:, 0]) * np.exp(-world.config.damping * world.config.dt)
    np.testing.assert_allclose(vx[0], expected[0], rtol=1e-5)


def test_push_episode_actions_recorded_and_obeyed():
    world = ws.worlds.make("push", num_balls=(1, 1), speed=(0.0, 0.0), damping=0.0)
    ep = world.sample(jax.random.key(5), 8)
    assert ep.actions.shape == (8, world.config.num_frames, 2)
    a = np.asarray(ep.actions)
    assert np.all(np.abs(a) <= 1)
    v = np.asarray(ep.states.vel[:, :, 0])
    m = np.asarray(ep.states.mass[:, 0, 0])
    # With no walls touched, each frame's velocity change is exactly the recorded push.
    dv = v[:, 1:] - v[:, :-1]
    kick = a[:, :-1] * world.config.max_force * world.config.dt / m[:, None, None]
    touched = np.abs(dv - kick).max(-1) > 1e-4
    assert touched.mean() < 0.2  # only frames with a wall contact differ
    np.testing.assert_allclose(dv[~touched], kick[~touched], atol=1e-4)


def test_pure_functions_vmap_equals_loop_and_jit_equals_eager():
    cfg = ws.worlds.make("bouncing_balls", num_frames=8).config
    keys = jax.random.split(jax.random.key(2), 3)

    def one(k):
        s0 = initial_state(cfg, k)
        return dynamics.simulate(cfg, s0, jnp.zeros((cfg.num_frames, 0)))[0].pos

    batched = jax.jit(jax.vmap(one))(keys)
    for i in range(3):
        np.testing.assert_allclose(batched[i], one(keys[i]), atol=1e-6)


def test_push_idle_blocks_push_nothing_and_keep_the_other_pushes():
    from worldsim.data.mixture import _parse

    name, over = _parse("push+idle")
    idle = ws.worlds.make(name, resolution=32, num_frames=64, **over).sample(jax.random.key(4), 8)
    busy = ws.worlds.make(name, resolution=32, num_frames=64).sample(jax.random.key(4), 8)
    a, b = np.asarray(idle.actions), np.asarray(busy.actions)
    still = np.all(a == 0, axis=-1)  # (B, T)
    assert 0.3 < still.mean() < 0.7  # about half the held blocks push nothing
    np.testing.assert_array_equal(a[~still], b[~still])  # the blocks that push are the same pushes
    held = ws.worlds.make(name).config.action_hold
    assert np.all(still.reshape(8, -1, held).all(-1) | ~still.reshape(8, -1, held).any(-1))  # whole blocks
