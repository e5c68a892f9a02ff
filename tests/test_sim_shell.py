"""The Simulator shell: reset/step/rollout/fork/render/readout, batches, no retracing, and termination."""

import jax
import numpy as np
import pytest
from simtools import always, frames, leaves_equal, tiny_model

import worldsim as ws
from worldsim.sim import checks, compiled

KEY = jax.random.key(0)
T = 8  # the rollout length the core tests compile too (shared compiled code in one process)


@pytest.fixture(scope="module")
def sim():
    return ws.Simulator(tiny_model())


def test_reset_step_rollout_fork_render(sim):
    state = sim.reset(KEY, prompt="a red ball and a blue ball", frames=frames(3), actions=np.zeros((2, 2)))
    assert int(state.t) == 0 and not bool(state.done)
    assert np.array_equal(sim.render(state), sim.render(state)) and sim.render(state).shape == (32, 32, 3)
    state, out = sim.step(state, np.array([0.5, -0.5], np.float32), KEY)
    assert out.frame.shape == (32, 32, 3) and out.frame.dtype == np.uint8 and int(out.t) == 1
    assert np.array_equal(sim.render(state), out.frame)
    state, outs = sim.rollout(state, np.zeros((T, 2)), KEY, decode=False)
    assert outs.frames is None and outs.latent.shape == (T, 4, 4, 8) and int(state.t) == T + 1
    kids = sim.fork(state, 3)
    kids2, kout = sim.step(kids, np.zeros((3, 2)), KEY, decode=False)
    assert kout.latent.shape == (3, 4, 4, 8) and kids2.t.tolist() == [T + 2] * 3
    kids3, kouts = sim.rollout(kids2, np.zeros((3, T, 2)), KEY, decode=False)  # outputs lead with (batch, T)
    assert kouts.latent.shape == (3, T, 4, 4, 8) and kids3.t.tolist() == [2 * T + 2] * 3
    assert sim.render(kids2).shape == (3, 32, 32, 3)
    read = sim.readout(kids2)
    assert read.pos.shape == (3, 6, 2) and read.present.shape == (3, 6)
    assert leaves_equal(ws.fork(state, 3), kids)  # the shell's fork is the core's


def test_batched_simulator(sim):
    batch = ws.Simulator(tiny_model(), batch_size=3)
    state = batch.reset(KEY, prompt=["one", "two", "three"])
    assert state.t.shape == (3,) and len(set(np.asarray(state.branch).tolist())) == 3
    assert not np.allclose(state.text_emb[0], state.text_emb[1])  # one prompt per episode
    state, out = batch.step(state, np.zeros((3, 2)), KEY, decode=False)
    lat = np.asarray(out.latent).reshape(3, -1)
    assert np.abs(lat[0] - lat[1]).max() > 1e-3  # independent episodes
    shared = batch.reset(KEY, prompt="same for all")  # one prompt for every episode
    assert np.allclose(shared.text_emb[0], shared.text_emb[2])
    assert batch.render(shared).shape == (3, 32, 32, 3)
    # one (k, H, W, 3) stack of start frames is shared by every episode; a (B, k, H, W, 3) batch is per episode
    one = checks.check_frames(frames(2), 3, 32)
    assert one.shape == (3, 2, 32, 32, 3) and np.array_equal(one[0], one[2])
    per = checks.check_frames(np.stack([frames(2, seed=i) for i in range(3)]), 3, 32)
    assert per.shape == (3, 2, 32, 32, 3) and not np.array_equal(per[0], per[1])


def test_stepping_never_retraces(sim):
    state = sim.reset(KEY, prompt="warm up")
    state, _ = sim.step(state, np.zeros(2), KEY)
    state, _ = sim.rollout(state, np.zeros((T, 2)), KEY)
    before = dict(compiled.TRACES)
    other = ws.Simulator(tiny_model(seed=1), temperature=0.5)  # other weights and temperature, same config
    s = other.reset(jax.random.key(5), prompt="another prompt")
    for i in range(6):
        s, _ = other.step(s, np.full(2, i / 6, np.float32), jax.random.key(i))
    s, _ = other.rollout(s, np.ones((T, 2)), KEY)
    s, _ = sim.step(s, np.zeros(2), KEY)
    assert dict(compiled.TRACES) == before


def test_termination_is_absorbing_and_stepping_after_it_is_refused():
    ending = ws.Simulator(tiny_model(), terminal_fn=always)
    state = ending.reset(KEY)
    done, out = ending.step(state, np.zeros(2), KEY, decode=False)
    assert bool(out.done) and bool(done.done)
    with pytest.raises(ValueError, match=r"ended.*sim.reset"):
        ending.step(done, np.zeros(2), KEY)
    with pytest.raises(ValueError, match=r"ended.*sim.reset"):
        ending.rollout(done, np.zeros((T, 2)), KEY)
