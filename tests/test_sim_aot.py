"""worldsim.sim.aot: the simulator's programs exported to disk for the next process. Same outputs as the plain
jitted path; a later process (here: an emptied in-process memo) loads them instead of exporting; damaged entries and
user callables fall back."""

import jax
import numpy as np
import pytest
from simtools import leaves_equal, tiny_model

import worldsim as ws
from worldsim.sim import aot


@pytest.fixture
def on_disk(tmp_path, monkeypatch):
    """The export cache in a folder of the test's own (the suite runs with the compilation cache off)."""
    monkeypatch.setattr(aot, "_folder", lambda: tmp_path)
    _new_process(monkeypatch)
    return tmp_path


def _new_process(monkeypatch):
    """What a new process has: nothing in memory, only the files."""
    monkeypatch.setattr(aot, "_MEMO", {})
    monkeypatch.setattr(aot, "_FAST", {})
    monkeypatch.setattr(aot, "_WATCHED", set())


def _episode(model, **kw):
    sim = ws.Simulator(model, **kw)
    state = sim.reset(jax.random.key(0), prompt="a red ball")
    return sim.step(state, np.array([0.5, -0.5], np.float32), jax.random.key(1))


def test_exported_programs_give_the_plain_outputs_and_load_in_a_later_process(on_disk, monkeypatch):
    model = tiny_model()
    got = _episode(model)
    assert len(list(on_disk.glob("*.bin"))) == 2  # init and step
    with monkeypatch.context() as m:
        m.setattr(aot, "_folder", lambda: None)  # the plain jitted path
        assert leaves_equal(got, _episode(model))
    # Later calls of a signature seen before neither look at the disk nor hash the model again.
    with monkeypatch.context() as m:
        m.setattr(aot, "_runner", lambda *a, **k: pytest.fail("resolved again"))
        assert leaves_equal(got, _episode(model))

    # A later process finds only the files: it loads them, and exports nothing.
    _new_process(monkeypatch)
    with monkeypatch.context() as m:
        m.setattr(aot, "_export", lambda *a, **k: pytest.fail("exported again although the entry was on disk"))
        assert leaves_equal(got, _episode(model))

    # Damaged entries are exported again, with the same outputs.
    for path in on_disk.glob("*.bin"):
        path.write_bytes(b"junk")
    _new_process(monkeypatch)
    assert leaves_equal(got, _episode(model))
    assert all(path.stat().st_size > 100 for path in on_disk.glob("*.bin"))


def test_a_user_callable_takes_the_plain_path(on_disk):
    model = tiny_model()
    sim = ws.Simulator(model, terminal_fn=lambda r: r.present[0] > 2.0)
    state = sim.reset(jax.random.key(0), prompt="a red ball")
    sim.step(state, np.zeros(model.action_dim, np.float32), jax.random.key(1))
    assert len(list(on_disk.glob("*.bin"))) == 1  # init only: the step's terminal_fn has no name a file could keep


def test_calls_inside_a_trace_take_the_plain_path(on_disk):
    """Under the caller's jit or vmap the arguments are tracers: nothing to export, the caller's trace takes it."""
    from worldsim.sim import compiled

    model = tiny_model()
    state = ws.Simulator(model).reset(jax.random.key(0), prompt="a red ball")
    action = np.zeros(model.action_dim, np.float32)
    stepped = jax.jit(lambda s, a: compiled.step(model, s, a, jax.random.key(1), decode=False))(state, action)
    assert stepped[0].t == 1 and len(list(on_disk.glob("*.bin"))) == 1  # only the eager reset's init was exported
