"""Reset and step for the stateful adapters (Gymnasium, vector, dm_env): the shared compiled core
(worldsim.sim.compiled) plus the functional env's task outcome, with the functional env's semantics exactly
(actions clipped, decode skipped until the observation is rendered, reward 0 on an ended state)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from worldsim.envs import functional as fn
from worldsim.sim import compiled, core


def reset(env: fn.FunctionalEnv, params: fn.EnvParams, key, batch: int | None = None):
    """-> (obs, state); with batch, `batch` episodes from keys split off key."""
    m = params.model
    if batch is None:
        sp = env.sampling(m)
        state = compiled.init(m, key, params.text, params.frames, params.frame_actions, sp["temperature"],
                              steps=env.steps, reproject=sp["reproject"])
    else:
        tile = lambda x: None if x is None else jnp.broadcast_to(x, (batch,) + x.shape)  # noqa: E731
        text = (tile(params.text[0]), tile(params.text[1]))
        sp = env.sampling(m)
        state = compiled.init(m, jax.random.split(key, batch), text, tile(params.frames),
                              tile(params.frame_actions), sp["temperature"], rank=1, steps=env.steps,
                              reproject=sp["reproject"])
        # Own lineages, so the one step key the batch shares samples each episode differently.
        state = state._replace(branch=core.branch_ids(jnp.zeros((), jnp.uint32), batch))
    return observe(env, params, state, 0 if batch is None else 1), state


def observe(env: fn.FunctionalEnv, params: fn.EnvParams, state, rank: int):
    return compiled.render(params.model, state, rank=rank) if env.decode else state.latent


def step(env: fn.FunctionalEnv, params: fn.EnvParams, state, action, key, rank: int = 0):
    """action: validated numpy/jax (*batch, A) -> (obs, state, reward, terminated, truncated, readout)."""
    a = jnp.asarray(np.clip(np.asarray(action, np.float32), -1.0, 1.0))  # the worlds clip to [-1, 1] too
    m = params.model
    sp = env.sampling(m)
    new, out = compiled.step(m, state, a, key, sp["temperature"], rank=rank, decode=False, steps=env.steps,
                             reproject=sp["reproject"])
    new, reward, terminated, truncated = fn.outcome(env, m, state, new, out, rank=rank)
    return observe(env, params, new, rank), new, reward, terminated, truncated, out.readout


@jax.jit
def select(mask, a, b):
    """Per batch element: a where mask (B,) else b, over matching pytrees with a leading batch axis."""
    return jax.tree.map(lambda x, y: jnp.where(mask.reshape(mask.shape + (1,) * (x.ndim - 1)), x, y), a, b)
