"""The core, jitted once per (batch rank, static settings) and shared by every Simulator and adapter.

Each public function goes through worldsim.sim.aot, which keeps the traced program on disk for the next process
(while the compilation cache is on), else calls its jitted twin.

The model is an argument (a pytree), not a closure, so two simulators over models of the same config share the
compiled code, and swapping weights never recompiles. `rank` = how many leading batch axes the state has (each is
one jax.vmap; the model and the key are shared, so batch elements differ by their fork lineage `branch`).

Each public function calls its jitted twin with every argument in one canonical form (all positional, temperature
a float32 array): jax.jit keys its cache on how arguments are passed, so `f(x)` and `f(x, 1.0)` would otherwise
compile twice. TRACES counts traces per function: a Python side effect that runs only while jit traces.
"""

from __future__ import annotations

import functools
from collections import Counter

import jax
import jax.numpy as jnp

from worldsim.sim import aot, core

TRACES: Counter = Counter()


def vmap_n(fn, rank: int, in_axes):
    """vmap fn over `rank` leading axes (0 = unbatched)."""
    for _ in range(rank):
        fn = jax.vmap(fn, in_axes=in_axes)
    return fn


def _temp(temperature) -> jax.Array:
    return jnp.asarray(temperature, jnp.float32)


@functools.partial(jax.jit, static_argnums=(6, 7, 8, 9))
def _init(model, key, prompt, frames, actions, temperature, rank, steps, reproject, guidance):
    TRACES["init"] += 1

    def one(k, p, f, a):
        return core.init(model, k, p, f, a, steps=steps, temperature=temperature, reproject=reproject,
                         guidance=guidance)

    return vmap_n(one, rank, (0, 0, 0, 0))(key, prompt, frames, actions)


def init(model, key, prompt, frames, actions, temperature=1.0, *, rank: int = 0, steps: int | None = None,
         reproject: bool = False, guidance: float = 1.0):
    """core.init; with rank 1, key/prompt/frames/actions carry a leading batch axis (prompt as (bytes, mask))."""
    return aot.call("init", _init, model, (key, prompt, frames, actions, _temp(temperature)),
                    (rank, steps, bool(reproject), float(guidance)))


@functools.partial(jax.jit, static_argnums=(5, 6, 7, 8, 9, 10))
def _step(model, state, action, key, temperature, rank, decode, steps, terminal_fn, scan, reproject):
    TRACES["rollout" if scan else "step"] += 1
    fn = core.rollout if scan else core.step

    def one(s, a):
        return fn(model, s, a, key, decode=decode, steps=steps, temperature=temperature, reproject=reproject,
                  terminal_fn=terminal_fn)

    return vmap_n(one, rank, (0, 0))(state, action)


def step(model, state, action, key, temperature=1.0, *, rank: int = 0, decode: bool = True,
         steps: int | None = None, terminal_fn=None, reproject: bool = False):
    """core.step over a state with `rank` batch axes; action (*batch, A); one key."""
    return aot.call("step", _step, model, (state, action, key, _temp(temperature)),
                    (rank, bool(decode), steps, terminal_fn, False, bool(reproject)))


def rollout(model, state, actions, key, temperature=1.0, *, rank: int = 0, decode: bool = True,
            steps: int | None = None, terminal_fn=None, reproject: bool = False):
    """core.rollout over a state with `rank` batch axes; actions (*batch, T, A); one key."""
    return aot.call("step", _step, model, (state, actions, key, _temp(temperature)),
                    (rank, bool(decode), steps, terminal_fn, True, bool(reproject)))


@functools.partial(jax.jit, static_argnums=(2,))
def _render(model, state, rank):
    return vmap_n(lambda s: core.render(model, s), rank, 0)(state)


def render(model, state, *, rank: int = 0):
    """uint8 (*batch, H, W, 3) current frames."""
    return _render(model, state, rank)


@functools.partial(jax.jit, static_argnums=(2,))
def _readout(model, state, rank):
    return vmap_n(lambda s: core.readout(model, s), rank, 0)(state)


def readout(model, state, *, rank: int = 0):
    """Readout of the current frames (None without a state head)."""
    return _readout(model, state, rank)
