"""Generative next-frame head: rectified flow over all N tokens of a frame at once.

x_s = (1 - s) * noise + s * z for s in [0, 1]; the denoiser predicts the velocity z - noise. Sampling integrates
dx/ds = v(x, s) from s = 0 (noise) to s = 1 with Euler steps. A frame is denoised jointly (attention across its
tokens), so its balls come out consistent with each other rather than token by token.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from worldsim.dynamics.config import DynamicsConfig
from worldsim.dynamics.layers import QKV, Mlp

_zeros = nnx.initializers.zeros


def time_features(s, dim: int):
    """(M,) noise levels in [0, 1] -> (M, dim) sinusoidal features."""
    half = dim // 2
    freqs = jnp.exp(-math.log(10_000.0) * jnp.arange(half, dtype=jnp.float32) / half)
    ang = (1000.0 * s)[:, None] * freqs
    return jnp.concatenate([jnp.sin(ang), jnp.cos(ang)], axis=-1)


class AdaBlock(nnx.Module):
    """DiT-style block: per-token adaptive RMSNorm shift/scale/gate from the condition c (M, N, fd).

    The modulation is zero-initialised, so each block starts as the identity and the condition is learned in.
    """

    def __init__(self, d: int, heads: int, *, rngs: nnx.Rngs):
        self.n1 = nnx.RMSNorm(d, use_scale=False, rngs=rngs)
        self.attn = QKV(d, heads, rngs=rngs)
        self.n2 = nnx.RMSNorm(d, use_scale=False, rngs=rngs)
        self.mlp = Mlp(d, 4 * d, rngs=rngs)
        self.mod = nnx.Linear(d, 6 * d, kernel_init=_zeros, rngs=rngs)

    def __call__(self, x, c):
        sh1, sc1, g1, sh2, sc2, g2 = jnp.split(self.mod(nnx.silu(c)), 6, axis=-1)
        x = x + g1 * self.attn(self.n1(x) * (1 + sc1) + sh1)  # full attention over the frame's N tokens
        return x + g2 * self.mlp(self.n2(x) * (1 + sc2) + sh2)


class FlowHead(nnx.Module):
    """v(x_s, s | h): x_s (M, N, C) noisy tokens, s (M,), h (M, N, d_model) dynamics hidden -> (M, N, C)."""

    def __init__(self, cfg: DynamicsConfig, *, rngs: nnx.Rngs):
        fd, n = cfg.flow_dim, cfg.tokens_per_frame
        self.steps = cfg.flow_steps
        self.inp = nnx.Linear(cfg.token_dim, fd, rngs=rngs)
        self.pos = nnx.Param(0.02 * nnx.initializers.normal(1.0)(rngs.params(), (n, fd)))
        self.cond = nnx.Linear(cfg.d_model, fd, rngs=rngs)
        self.time1 = nnx.Linear(fd, fd, rngs=rngs)
        self.time2 = nnx.Linear(fd, fd, rngs=rngs)
        self.blocks = nnx.List([AdaBlock(fd, cfg.flow_heads, rngs=rngs) for _ in range(cfg.flow_layers)])
        self.norm = nnx.RMSNorm(fd, use_scale=False, rngs=rngs)
        self.final_mod = nnx.Linear(fd, 2 * fd, kernel_init=_zeros, rngs=rngs)
        self.out = nnx.Linear(fd, cfg.token_dim, kernel_init=_zeros, rngs=rngs)

    def __call__(self, x, s, h):
        temb = self.time2(nnx.silu(self.time1(time_features(s, self.pos.shape[-1]))))  # (M, fd)
        c = self.cond(h) + temb[:, None, :]  # (M, N, fd): per-token condition (h is spatially aligned)
        x = self.inp(x) + self.pos[...] + c
        for blk in self.blocks:
            x = blk(x, c)
        shift, scale = jnp.split(self.final_mod(nnx.silu(c)), 2, axis=-1)
        return self.out(self.norm(x) * (1 + scale) + shift)


def _head(model) -> FlowHead:
    """Accept the FlowHead itself or a DynamicsModel holding one as `.flow`."""
    return model if isinstance(model, FlowHead) else model.flow


def _flat(h, n_lead: int):
    return h.reshape((-1,) + h.shape[n_lead:])


def flow_loss(model, h, target_tokens, key) -> jax.Array:
    """Rectified-flow loss. h (..., N, d_model) conditions, target_tokens (..., N, C) the frames they predict.

    One noise level per frame, s ~ U(0, 1); mean squared velocity error over all values.
    """
    head = _head(model)
    lead = target_tokens.shape[:-2]
    if h.shape[:-1] != target_tokens.shape[:-1]:
        raise ValueError(f"h {h.shape} and target_tokens {target_tokens.shape} must agree on (..., N)")
    h, z = _flat(h, len(lead)), _flat(target_tokens, len(lead))
    k_s, k_n = jax.random.split(key)
    s = jax.random.uniform(k_s, (z.shape[0],))
    noise = jax.random.normal(k_n, z.shape, z.dtype)
    x_s = (1.0 - s)[:, None, None] * noise + s[:, None, None] * z
    v = head(x_s, s, h)
    return jnp.mean((v - (z - noise)) ** 2)


def integrate(model, h, x0, steps: int | None = None, h_uncond=None, guidance: float = 1.0) -> jax.Array:
    """Deterministic Euler integration from given starting noise x0 (..., N, C) to s = 1; same output for the
    same inputs (used by sample and by tests).

    With h_uncond (the hidden the model gives without the condition, e.g. without text), the velocity is
    classifier-free guided: v_u + guidance * (v_c - v_u); guidance = 1 is plain conditional sampling."""
    head = _head(model)
    steps = head.steps if steps is None else int(steps)
    if steps < 1:
        raise ValueError(f"steps={steps}: use at least one Euler step")
    lead = x0.shape[:-2]
    x, hf = _flat(x0, len(lead)), _flat(h, len(lead))
    m = x.shape[0]
    if h_uncond is not None:
        hf = jnp.concatenate([hf, _flat(jnp.broadcast_to(h_uncond, h.shape), len(lead))])
    dt = 1.0 / steps
    for i in range(steps):  # steps is small and static: an unrolled loop keeps the graph plain
        if h_uncond is None:
            v = head(x, jnp.full((m,), i * dt, jnp.float32), hf)
        else:  # conditional and unconditional velocities in one batched call
            both = head(jnp.concatenate([x, x]), jnp.full((2 * m,), i * dt, jnp.float32), hf)
            v = both[m:] + guidance * (both[:m] - both[m:])
        x = x + dt * v
    return x.reshape(x0.shape)


def sample(model, h, key, steps: int | None = None, temperature: float = 1.0, h_uncond=None,
           guidance: float = 1.0) -> jax.Array:
    """Sample next-frame tokens (..., N, C) given h (..., N, d_model). temperature scales the starting noise
    (0 = the deterministic flow from zero noise); h_uncond + guidance: classifier-free guidance (see integrate)."""
    head = _head(model)
    shape = h.shape[:-1] + (head.out.out_features,)
    x0 = temperature * jax.random.normal(key, shape, jnp.float32)
    return integrate(head, h, x0, steps, h_uncond, guidance)
