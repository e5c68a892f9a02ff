"""The simulator's performance figures, each a ratio of two timings taken in one process (the machine may be
shared and noisy; a ratio cancels most of that):

P1 cached step against a whole-context recompute sampler (re-run the model over every past frame for each new
   frame, as the open Genie re-implementations do) at context 32: same model, same next frame (checked).
P2 cached step time at t = 512 over t = 16 (the rolling window keeps it flat).
P3 FLOP/s of a batched simulator step (B = 256, no decoding) over a large f32 matmul's.
P4 FLOP/s of a training step over the same matmul's.
FLOPs are XLA's own count of the compiled program (timing.flops).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from worldsim.bench.timing import best_time, flops


def _latents(model, b: int, t: int, seed: int = 0) -> jax.Array:
    return 0.5 * jax.random.normal(jax.random.key(seed), (b, t) + tuple(model.latent_shape), jnp.float32)


@jax.jit
def _fill(model, zs):
    """The dynamics cache after the prompt and the frames zs (B, T, g, g, D)."""
    dyn = model.dynamics
    _, cache = dyn.prefill(dyn.init_cache(zs.shape[0]))

    def feed(c, z):
        return dyn.step(c, z)[1], None

    return jax.lax.scan(feed, cache, jnp.swapaxes(zs, 0, 1))[0]


@jax.jit
def _cached_next(model, cache, z, key):
    h, _ = model.dynamics.step(cache, z)
    return model.dynamics.sample_frame(h, key, temperature=0.5)


@jax.jit
def _cached_hidden(model, cache, z):
    return model.dynamics.step(cache, z)[0]


@jax.jit
def _recompute_hidden(model, zs):
    return model.dynamics(zs)[:, -1]


@jax.jit
def _recompute_next(model, zs, key):
    h = model.dynamics(zs)  # every past frame again
    return model.dynamics.sample_frame(h[:, -1], key, temperature=0.5)


def cache_speedup(model, context: int = 32, reps: int = 5) -> dict:
    """P1: seconds per new frame, whole-context recompute / cached step, at `context` frames."""
    zs, key = _latents(model, 1, context), jax.random.key(1)
    cache = _fill(model, zs[:, :-1])
    cached = np.asarray(_cached_next(model, cache, zs[:, -1], key))
    again = np.asarray(_recompute_next(model, zs, key))
    t_cached = best_time(_cached_next, model, cache, zs[:, -1], key, reps=reps)
    t_full = best_time(_recompute_next, model, zs, key, reps=reps)
    # The same without the flow head's frame sampling, which both samplers pay in full: the transformer alone.
    t_cached_h = best_time(_cached_hidden, model, cache, zs[:, -1], reps=reps)
    t_full_h = best_time(_recompute_hidden, model, zs, reps=reps)
    return {"context": context, "cached_ms": 1e3 * t_cached, "recompute_ms": 1e3 * t_full,
            "ratio": t_full / t_cached, "max_output_diff": float(np.max(np.abs(cached - again))),
            "transformer_cached_ms": 1e3 * t_cached_h, "transformer_recompute_ms": 1e3 * t_full_h,
            "transformer_ratio": t_full_h / t_cached_h}


def step_flatness(model, early: int = 16, late: int = 512, reps: int = 5) -> dict:
    """P2: cached step seconds at t = late over t = early."""
    key, times = jax.random.key(2), {}
    for t in (early, late):
        zs = _latents(model, 1, t)
        cache = _fill(model, zs[:, :-1])
        times[t] = best_time(_cached_next, model, cache, zs[:, -1], key, reps=reps)
    return {"early": early, "late": late, "early_ms": 1e3 * times[early], "late_ms": 1e3 * times[late],
            "ratio": times[late] / times[early]}


def rollout_rate(model, batch: int = 256, reps: int = 3) -> dict:
    """P3 numerator: FLOP/s of one batched simulator step (decode=False, no reprojection)."""
    from worldsim.sim import core

    states = jax.jit(jax.vmap(lambda k: core.init(model, k)))(jax.random.split(jax.random.key(3), batch))
    actions = jnp.zeros((batch, model.action_dim), jnp.float32)
    step = jax.jit(lambda m, s, a, k: jax.vmap(
        lambda s1, a1: core.step(m, s1, a1, k, decode=False, temperature=0.5))(s, a))
    key = jax.random.key(4)
    n = flops(step, model, states, actions, key)
    sec = best_time(step, model, states, actions, key, reps=reps)
    return {"batch": batch, "step_ms": 1e3 * sec, "flops": n, "flop_per_s": n / sec}


def train_rate(cfg=None, batch: int = 16, frames: int = 16, reps: int = 3) -> dict:
    """P4 numerator: FLOP/s of a dynamics training step (gradient FLOPs by XLA's count; the optimizer's few
    FLOPs per parameter are left out), timed as the real train_step with its optimizer update."""
    from worldsim.dynamics import DynamicsModel
    from worldsim.train.dynamics import DynamicsTrainConfig, batch_loss, make_optimizer, train_step

    cfg = cfg or DynamicsTrainConfig.small().replace(batch_size=batch, clip_frames=frames)
    m = cfg.model
    model = DynamicsModel(m, rngs=nnx.Rngs(0))
    opt = make_optimizer(cfg, model)
    rng = np.random.default_rng(0)
    b, t, c = batch, frames, m.num_colours
    data = {
        "latents": jnp.asarray(0.5 * rng.normal(size=(b, t) + m.latent_shape), jnp.float32),
        "actions": jnp.zeros((b, t, m.action_dim), jnp.float32),
        "text_ids": jnp.asarray(rng.integers(32, 127, (b, m.max_text_bytes)), jnp.int32),
        "text_mask": jnp.ones((b, m.max_text_bytes), bool),
        "state_pos": jnp.asarray(rng.uniform(size=(b, t, c, 2)), jnp.float32),
        "state_vel": jnp.zeros((b, t, c, 2), jnp.float32),
        "state_present": jnp.ones((b, t, c), bool),
        "has_state": jnp.ones((b,), bool),
    }
    key = jax.random.key(5)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def loss(p, batch, k):
        return batch_loss(nnx.merge(graphdef, p, rest), batch, k, cfg.text_dropout, cfg.state_weight,
                          cfg.context_noise)[0]

    n = flops(jax.jit(jax.value_and_grad(loss)), params, data, key)
    sec = best_time(lambda: train_step(model, opt, data, key, cfg.text_dropout, cfg.state_weight,
                                       cfg.context_noise), reps=reps)
    return {"batch": batch, "frames": frames, "step_ms": 1e3 * sec, "flops": n, "flop_per_s": n / sec}
