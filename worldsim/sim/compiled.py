"""The core, jitted once per (batch rank, static settings) and shared by every Simulator and adapter.

The model is an argument (a pytree), not a closure, so two simulators over models of the same config share the
compiled code, and swapping weights never recompiles. `rank` = how many leading batch axes the state has (each is
one jax.vmap; the model and the key are shared, so batch elements differ by their fork lineage `branch`).
TRACES counts traces per function: a Python side effect that runs only while jit traces (tests read it).
"""

from __future__ import annotations

import functools
from collections import Counter

import jax

from worldsim.sim import core

TRACES: Counter = Counter()


def vmap_n(fn, rank: int, in_axes):
    """vmap fn over `rank` leading axes (0 = unbatched)."""
    for _ in range(rank):
        fn = jax.vmap(fn, in_axes=in_axes)
    return fn


@functools.partial(jax.jit, static_argnames=("rank", "steps"))
def init(model, key, prompt, frames, actions, temperature=1.0, *, rank: int = 0, steps: int | None = None):
    """core.init; with rank 1, key/prompt/frames/actions carry a leading batch axis."""
    TRACES["init"] += 1

    def one(k, p, f, a):
        return core.init(model, k, p, f, a, steps=steps, temperature=temperature)

    return vmap_n(one, rank, (0, 0, 0, 0))(key, prompt, frames, actions)


@functools.partial(jax.jit, static_argnames=("rank", "decode", "steps", "terminal_fn"))
def step(model, state, action, key, temperature=1.0, *, rank: int = 0, decode: bool = True,
         steps: int | None = None, terminal_fn=None):
    """core.step over a state with `rank` batch axes; action (*batch, A); one key."""
    TRACES["step"] += 1

    def one(s, a):
        return core.step(model, s, a, key, decode=decode, steps=steps, temperature=temperature,
                         terminal_fn=terminal_fn)

    return vmap_n(one, rank, (0, 0))(state, action)


@functools.partial(jax.jit, static_argnames=("rank", "decode", "steps", "terminal_fn"))
def rollout(model, state, actions, key, temperature=1.0, *, rank: int = 0, decode: bool = True,
            steps: int | None = None, terminal_fn=None):
    """core.rollout over a state with `rank` batch axes; actions (*batch, T, A); one key."""
    TRACES["rollout"] += 1

    def one(s, a):
        return core.rollout(model, s, a, key, decode=decode, steps=steps, temperature=temperature,
                            terminal_fn=terminal_fn)

    return vmap_n(one, rank, (0, 0))(state, actions)


@functools.partial(jax.jit, static_argnames=("rank",))
def render(model, state, *, rank: int = 0):
    return vmap_n(lambda s: core.render(model, s), rank, 0)(state)


@functools.partial(jax.jit, static_argnames=("rank",))
def readout(model, state, *, rank: int = 0):
    return vmap_n(lambda s: core.readout(model, s), rank, 0)(state)
