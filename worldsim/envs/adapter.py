"""Reset and step for the stateful adapters (Gymnasium, vector, dm_env): the shared compiled core
(worldsim.sim.compiled) plus the functional env's task outcome, with the functional env's semantics exactly
(actions clipped, decode skipped until the observation is rendered, reward 0 on an ended state)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from worldsim.envs import functional as fn, scenes
from worldsim.envs.tasks import check_object, object_colour
from worldsim.sim import compiled, core

UNLIMITED = 2**31 - 1  # max_steps=None: no step limit of the env's own (a wrapper such as TimeLimit truncates)


def episode_limit(max_steps, max_episode_steps=None) -> int:
    """max_steps, else Gymnasium's max_episode_steps (what gym.make_vec passes from the registered spec), else none
    of its own (gym.make's TimeLimit wrapper truncates at the spec's max_episode_steps)."""
    limit = max_steps if max_steps is not None else max_episode_steps
    return UNLIMITED if limit is None else limit


def configure(owner, model, task, prompt, max_steps: int, render_mode, steps, temperature,
              world=scenes.DEFAULT_WORLD, start_frames: int = scenes.START_FRAMES):
    """The set-up the stateful adapters share: owner.model / env / prompt / render_mode / _params; returns the
    single observation and action spaces."""
    from gymnasium import spaces

    from worldsim.envs.tasks import ReachGoal

    if render_mode not in (None, "rgb_array"):
        raise ValueError(f"render_mode={render_mode!r}: use None or 'rgb_array'")
    owner.model = fn.as_model(model)
    fn.check_task(ReachGoal() if task is None else task, owner.model)  # at construction, not at the first step
    owner.env = fn.FunctionalEnv(task=ReachGoal() if task is None else task, max_steps=max_steps, steps=steps,
                                 temperature=temperature, world=world, start_frames=start_frames)
    owner.prompt, owner.render_mode = prompt, render_mode
    owner._params = fn.env_params(owner.model, prompt)
    r, a = owner.model.resolution, owner.model.action_dim
    return spaces.Box(0, 255, (r, r, 3), np.uint8), spaces.Box(-1.0, 1.0, (a,), np.float32)


def apply_options(owner, options: dict | None, allowed) -> None:
    """reset(options=...) of the stateful adapters: new start conditions (prompt, frames, frame_actions) for this
    and later episodes; the prompt defaults to the constructor's."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"unknown reset option(s) {unknown}: use {', '.join(allowed)}")
    if options:
        owner._params = fn.env_params(owner.model, options.get("prompt", owner.prompt), options.get("frames"),
                                      options.get("frame_actions"))


def reset(env: fn.FunctionalEnv, params: fn.EnvParams, key, batch: int | None = None, only=None):
    """-> (obs, state); with batch, `batch` episodes from keys split off key. Each episode starts as the
    functional env's reset_env(its key) does: a scene of env.world drawn from its key, unless params give a start.

    only: indices into the batch: just those episodes (the same ones the whole batch would start there, lineage
    included), for an auto-reset of the envs that ended. Their count is padded up to a power of two, so a vector
    env compiles at most log2(batch) + 1 reset programs."""
    m = params.model
    sp = env.init_sampling(m)
    keys = key if batch is None else jax.random.split(key, batch)
    picked = None
    if only is not None:
        n = len(only)
        picked = np.concatenate([only, np.full(min(1 << (n - 1).bit_length(), batch) - n, only[0])])
        keys = keys[picked]
    n_keys = None if batch is None else len(keys)
    tile = lambda x: x if x is None or batch is None else jnp.broadcast_to(x, (n_keys,) + x.shape)  # noqa: E731
    text = None if params.text is None else (tile(params.text[0]), tile(params.text[1]))
    frames, actions = tile(params.frames), tile(params.frame_actions)
    cfg, rank = env.scene(params), 0 if batch is None else 1
    if cfg is not None:  # split as reset_env does, so an episode's key gives the functional env's scene
        pairs = jax.random.split(keys) if batch is None else jax.vmap(jax.random.split)(keys)
        k_scene, keys = pairs[..., 0], pairs[..., 1]
        frames, actions = scenes.draw_keys(cfg, k_scene, env.start_frames, m.action_dim, object_colour(env.task),
                                           rank)
    state = compiled.init(m, keys, text, frames, actions, sp["temperature"], rank=rank,
                          steps=env.steps, reproject=sp["reproject"], guidance=sp["guidance"])
    if batch is not None:  # own lineages, so the one step key the batch shares samples each episode differently
        branch = core.branch_ids(jnp.zeros((), jnp.uint32), batch)
        state = state._replace(branch=branch if picked is None else branch[picked])
    if cfg is None:  # a given start may lack the ball the task reads; a scene has it by design
        check_object(env.task, compiled.readout(m, state, rank=rank))
    obs = observe(env, params, state, rank)
    if picked is not None:  # drop the padding
        obs, state = jax.tree.map(lambda x: x[: len(only)], (obs, state))
    return obs, state


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
def put(batch, rows, fresh):
    """batch (pytree, leading batch axis) with its `rows` replaced by fresh's, in one compiled program."""
    return jax.tree.map(lambda x, f: x.at[rows].set(f), batch, fresh)
