"""Auto-reset that pays a reset only for the episodes that ended, also under jax.vmap.

A plain `jnp.where(done, reset(key), current)` computes the reset (text encoder, first-frame prior, flow, decode)
for every env on every step; so does `lax.cond(done, ...)` once vmapped, since vmap turns a batched cond into a
select of both branches. Here the single env runs a real `lax.cond`, and a custom vmap rule looks at the whole
batch instead: no env done -> no reset; at most `capacity` done -> resets for only those, gathered and scattered
back; more -> one batched reset for all. Each done env gets exactly `fresh(its key, params)`, the others stay
untouched. (Under a vmap of a vmap the outer batch again selects between the three cases: right, not cheaper.)

Measured against a pool of prepared starts per env (experiments/bench/results.md, "Functional env"): as fast on
the default model, 10-30% faster on the tiny one, but it repeats its starts and holds pool-size x the state per env;
this keeps every episode a fresh draw from its key, as reset_env.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap

FEW = 16  # the "few done" case resets at most batch // FEW envs (at least 1): one extra compile of the reset


def where_done(fresh: Callable, done, key, params, current):
    """current where not done, else fresh(key, params); fresh(key, params) must return current's structure.
    Pure and jittable; under vmap, fresh runs only for the envs that are done (see the module doc)."""

    @custom_vmap
    def pick(done, key, params, current):
        return jax.lax.cond(done, lambda: fresh(key, params), lambda: current)

    @pick.def_vmap
    def rule(axis_size, in_batched, done, key, params, current):
        b_done, b_key, b_params, b_cur = in_batched
        done, key, current = (x if b else _tile(x, axis_size) for x, b in
                              ((done, b_done), (key, b_key), (current, b_cur)))
        p_axes = jax.tree.map(lambda b: 0 if b else None, b_params)
        many = jax.vmap(fresh, in_axes=(0, p_axes))
        cap = max(1, axis_size // FEW)
        n = jnp.sum(done, dtype=jnp.int32)

        def none():
            return current

        def few():  # gather the done envs (padding indices are out of range: clipped on read, dropped on write)
            idx = jnp.nonzero(done, size=cap, fill_value=axis_size)[0]
            take = lambda x: jnp.take(x, idx, axis=0, mode="clip")  # noqa: E731
            sub = jax.tree.map(lambda b, x: take(x) if b else x, b_params, params)
            out = many(take(key), sub)
            return jax.tree.map(lambda c, f: c.at[idx].set(f, mode="drop"), current, out)

        def every():
            out = many(key, params)
            return jax.tree.map(lambda f, c: jnp.where(_expand(done, c), f, c), out, current)

        branches = [none, few, every] if cap < axis_size else [none, every, every]
        case = jnp.where(n == 0, 0, jnp.where(n <= cap, 1, 2))
        out = jax.lax.switch(case, branches)
        return out, jax.tree.map(lambda _: True, out)

    return pick(done, key, params, current)


def _tile(tree, n: int):
    return jax.tree.map(lambda x: jnp.broadcast_to(x, (n,) + jnp.shape(x)), tree)


def _expand(mask, x):
    return mask.reshape(mask.shape + (1,) * (x.ndim - 1))
