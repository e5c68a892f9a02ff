"""First-frame prior: a small text-to-latent-frame flow model, for episodes that start from a prompt alone.

Why apart from the dynamics: the dynamics conditions every frame on one pooled text vector (text.py), which is
enough to nudge a continuation but not to lay out a scene. A mean over a caption's bytes loses which colour goes
with which place, and a first frame is 1 of 16 training targets per clip. The shipped model drew first frames
whose count and colours matched the caption in 0-6% of samples (experiments/default/results.md). Here the
denoiser's frame tokens cross-attend to every byte of the prompt, and every training example is a first frame.
Text-to-image then image-to-video is the factorisation of Emu Video (Girdhar et al., 2023), at toy scale.

Same rectified flow as flow.py: x_s = (1 - s) noise + s z; the network predicts z - noise.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from worldsim.dynamics.config import DynamicsConfig
from worldsim.dynamics.flow import time_features
from worldsim.dynamics.layers import QKV, Block, Mlp, attend

_zeros = nnx.initializers.zeros


def byte_positions(length: int, dim: int) -> jax.Array:
    """(length, dim) fixed sinusoidal positions: no table to store, and any prompt length works."""
    half = dim // 2
    freqs = jnp.exp(-math.log(10_000.0) * jnp.arange(half, dtype=jnp.float32) / half)
    ang = jnp.arange(length, dtype=jnp.float32)[:, None] * freqs
    return jnp.concatenate([jnp.sin(ang), jnp.cos(ang)], axis=-1)


def null_prompt(m: int, length: int) -> tuple[jax.Array, jax.Array]:
    """The "no caption" prompt that classifier-free guidance contrasts a caption with: one NUL byte, which UTF-8
    text never holds (captions are checked for it), as (M, length) bytes and mask."""
    ids = jnp.zeros((m, length), jnp.int32)
    return ids, jnp.zeros((m, length), bool).at[:, 0].set(True)


class CrossAttention(nnx.Module):
    """Queries from x (M, N, d) attend to a context's keys/values (M, L, 2d) (from `keys_values`, computed once per
    prompt, not per noise level or Euler step) under a bool mask (M, L)."""

    def __init__(self, d: int, dc: int, heads: int, *, rngs: nnx.Rngs):
        self.heads = heads
        self.q = nnx.Linear(d, d, use_bias=False, rngs=rngs)
        self.kv = nnx.Linear(dc, 2 * d, use_bias=False, rngs=rngs)
        self.out = nnx.Linear(d, d, rngs=rngs)

    def keys_values(self, ctx):
        return self.kv(ctx)

    def __call__(self, x, kv, mask):
        h = self.heads
        q = self.q(x).reshape(x.shape[:-1] + (h, -1))
        k, v = jnp.split(kv, 2, axis=-1)
        k, v = k.reshape(kv.shape[:-1] + (h, -1)), v.reshape(kv.shape[:-1] + (h, -1))
        o = attend(q, k, v, mask[:, None, None, :])
        return self.out(o.reshape(x.shape))


LOCAL_KERNEL = 9  # byte pairs each local-mixing layer sees (18 bytes: about a ball's description, per layer)


class LocalMix(nnx.Module):
    """Residual depthwise convolution over the sequence, then an MLP (ConvNeXt-style, in 1-D)."""

    def __init__(self, d: int, kernel: int, *, rngs: nnx.Rngs):
        self.conv = nnx.Conv(d, d, kernel_size=(kernel,), feature_group_count=d, padding="SAME", rngs=rngs)
        self.norm = nnx.RMSNorm(d, rngs=rngs)
        self.mlp = Mlp(d, 2 * d, rngs=rngs)

    def __call__(self, x, mask):
        """x (M, L, d), mask (M, L): padding is zeroed first, so how much of it there is never matters."""
        return x + self.mlp(self.norm(self.conv(x * mask[..., None])))


def add_byte_encoder(m: nnx.Module, d: int, layers: int, heads: int, rngs: nnx.Rngs) -> None:
    """Give module m the byte encoder's layers (read by byte_pair_features) as attributes of its own."""
    m.embed = nnx.Embed(256, d, rngs=rngs)
    # bytes -> byte pairs: a strided convolution halves the sequence the attention layer pays for (it cost ~0.35 s
    # per layer per batch of 64 at 288 bytes on 2 CPU cores, nearly all of a prior training step)
    m.pairs = nnx.Conv(d, d, kernel_size=(4,), strides=(2,), padding="SAME", rngs=rngs)
    # local mixing, then one global attention layer. Binding is local in a caption ("a small red ball at the top
    # left"): wide depthwise convolutions put a ball's colour and size into its place words' features cheaply,
    # which attention layers alone learned slowly here (after 3,400 steps: colours right in 3%).
    m.local = nnx.List([LocalMix(d, LOCAL_KERNEL, rngs=rngs) for _ in range(layers)])
    m.text_attn = Block(d, heads, 2 * d, rngs=rngs)
    m.text_norm = nnx.RMSNorm(d, rngs=rngs)


def byte_pair_features(enc: nnx.Module, ids, mask) -> tuple[jax.Array, jax.Array]:
    """A prompt's per-byte-pair features (M, ceil(L/2), d) and their mask, from bytes (M, L) int32 + mask (M, L).

    enc holds the byte encoder's layers: embed, pairs (strided convolution), local (LocalMix list), text_attn,
    text_norm. FirstFramePrior keeps them as its own attributes (the shipped weights are stored that way);
    ByteEncoder is the same encoder as a module of its own."""
    x = enc.embed(ids) + byte_positions(ids.shape[1], enc.embed.features)
    mask = mask.astype(bool)
    if ids.shape[1] % 2:  # pad to an even length (padding is masked)
        x, mask = jnp.pad(x, ((0, 0), (0, 1), (0, 0))), jnp.pad(mask, ((0, 0), (0, 1)))
    x, mask = enc.pairs(x), mask[:, 0::2] | mask[:, 1::2]
    for blk in enc.local:
        x = blk(x, mask)
    return enc.text_norm(enc.text_attn(x, mask[:, None, None, :])), mask


class ByteEncoder(nnx.Module):
    """Bytes -> byte-pair features: a 256-entry embedding with sinusoidal positions, a strided convolution to byte
    pairs, `layers` local-mixing layers, then one attention layer (see FirstFramePrior for why this shape)."""

    def __init__(self, d: int, layers: int, heads: int, *, rngs: nnx.Rngs):
        add_byte_encoder(self, d, layers, heads, rngs)

    def __call__(self, ids, mask) -> tuple[jax.Array, jax.Array]:
        return byte_pair_features(self, ids, mask)


class PriorBlock(nnx.Module):
    """Self-attention over the frame's tokens, cross-attention to the prompt's bytes, MLP; each sub-layer's
    RMSNorm shift/scale/gate comes from the noise level (zero-initialised, so a block starts as the identity)."""

    def __init__(self, d: int, dc: int, heads: int, *, rngs: nnx.Rngs):
        self.n1 = nnx.RMSNorm(d, use_scale=False, rngs=rngs)
        self.attn = QKV(d, heads, rngs=rngs)
        self.n2 = nnx.RMSNorm(d, use_scale=False, rngs=rngs)
        self.cross = CrossAttention(d, dc, heads, rngs=rngs)
        self.n3 = nnx.RMSNorm(d, use_scale=False, rngs=rngs)
        self.mlp = Mlp(d, 2 * d, rngs=rngs)
        self.mod = nnx.Linear(d, 9 * d, kernel_init=_zeros, rngs=rngs)

    def __call__(self, x, c, kv, mask):
        """x (M, N, d), c (M, d) noise-level condition, kv (M, L, 2d) this block's keys/values of the prompt,
        mask (M, L)."""
        m = jnp.split(self.mod(nnx.silu(c))[:, None, :], 9, axis=-1)
        x = x + m[2] * self.attn(self.n1(x) * (1 + m[1]) + m[0])
        x = x + m[5] * self.cross(self.n2(x) * (1 + m[4]) + m[3], kv, mask)
        return x + m[8] * self.mlp(self.n3(x) * (1 + m[7]) + m[6])


class FirstFramePrior(nnx.Module):
    """v(x_s, s | prompt bytes): x_s (M, N, C) noisy first-frame tokens -> (M, N, C) velocity."""

    def __init__(self, cfg: DynamicsConfig, *, rngs: nnx.Rngs):
        d, dt, n = cfg.prior_dim, cfg.prior_text_dim, cfg.tokens_per_frame
        self.steps, self.scale = cfg.flow_steps, cfg.prior_scale
        add_byte_encoder(self, dt, cfg.prior_text_layers, cfg.prior_heads, rngs)
        self.inp = nnx.Linear(cfg.token_dim, d, rngs=rngs)
        self.pos = nnx.Param(0.02 * nnx.initializers.normal(1.0)(rngs.params(), (n, d)))
        self.time1 = nnx.Linear(d, d, rngs=rngs)
        self.time2 = nnx.Linear(d, d, rngs=rngs)
        self.blocks = nnx.List([PriorBlock(d, dt, cfg.prior_heads, rngs=rngs) for _ in range(cfg.prior_layers)])
        self.norm = nnx.RMSNorm(d, use_scale=False, rngs=rngs)
        self.final_mod = nnx.Linear(d, 2 * d, kernel_init=_zeros, rngs=rngs)
        self.out = nnx.Linear(d, cfg.token_dim, kernel_init=_zeros, rngs=rngs)

    def encode_text(self, ids, mask) -> tuple[list[jax.Array], jax.Array]:
        """bytes (M, L) int32, mask (M, L) bool -> (every block's keys/values of the prompt's byte pairs
        [(M, L/2, 2 prior_dim)], their mask (M, L/2))."""
        ctx, mask = byte_pair_features(self, ids, mask)
        return [blk.cross.keys_values(ctx) for blk in self.blocks], mask

    def velocity(self, x, s, kvs, mask):
        """x (M, N, C), s (M,), (kvs, mask) from encode_text -> (M, N, C)."""
        d = self.pos.shape[-1]
        c = self.time2(nnx.silu(self.time1(time_features(s, d))))  # (M, d)
        h = self.inp(x) + self.pos[...]
        for blk, kv in zip(self.blocks, kvs, strict=True):
            h = blk(h, c, kv, mask)
        shift, scale = jnp.split(self.final_mod(nnx.silu(c))[:, None, :], 2, axis=-1)
        return self.out(self.norm(h) * (1 + scale) + shift)

    def loss(self, tokens, ids, mask, key, repeats: int = 1, weights=None, drop: float = 0.0) -> jax.Array:
        """Rectified-flow loss on first-frame tokens (M, N, C) given their prompts' bytes (M, L) and mask.

        repeats: noise levels drawn per example; the prompt is encoded once for all of them (cheaper per sample).
        weights (M,): per-example weights of the mean (e.g. 0 for frames without a caption); None = all 1.
        drop: share of examples whose prompt is replaced by null_prompt, which teaches the unconditional
        velocity that classifier-free guidance (sample's guidance) needs."""
        key, k_drop = jax.random.split(key)
        if drop > 0:
            nid, nmask = null_prompt(*ids.shape)
            keep = (jax.random.uniform(k_drop, (ids.shape[0], 1)) >= drop)
            ids, mask = jnp.where(keep, ids, nid), jnp.where(keep, jnp.asarray(mask, bool), nmask)
        kvs, mask = self.encode_text(ids, mask)
        kvs = [jnp.repeat(kv, repeats, axis=0) for kv in kvs]
        z, mask = jnp.repeat(tokens * self.scale, repeats, axis=0), jnp.repeat(mask, repeats, axis=0)
        k_s, k_n = jax.random.split(key)
        s = jax.random.uniform(k_s, (z.shape[0],))
        noise = jax.random.normal(k_n, z.shape, z.dtype)
        x_s = (1.0 - s)[:, None, None] * noise + s[:, None, None] * z
        err = jnp.mean((self.velocity(x_s, s, kvs, mask) - (z - noise)) ** 2, axis=(1, 2))  # (M * repeats,)
        if weights is None:
            return jnp.mean(err)
        w = jnp.repeat(jnp.asarray(weights, jnp.float32), repeats)
        return jnp.sum(w * err) / jnp.maximum(jnp.sum(w), 1.0)

    def sample(self, ids, mask, key, steps: int | None = None, temperature: float = 1.0,
               guidance: float = 1.0) -> jax.Array:
        """First-frame tokens (M, N, C) for prompts' bytes (M, L) + mask (M, L), by Euler integration from noise
        scaled by temperature.

        guidance: classifier-free guidance (Ho & Salimans, 2022): the velocity used is v_null + guidance *
        (v_prompt - v_null). 1 = the plain conditional flow; above 1 follows the prompt more closely (the prior
        must have been trained with loss(drop > 0) for v_null to mean anything)."""
        steps = self.steps if steps is None else int(steps)
        if steps < 1:
            raise ValueError(f"steps={steps}: use at least one Euler step")
        m = ids.shape[0]
        guided = guidance != 1.0
        if guided:  # the prompt and the null prompt side by side in one batch
            nid, nmask = null_prompt(*ids.shape)
            ids, mask = jnp.concatenate([ids, nid]), jnp.concatenate([jnp.asarray(mask, bool), nmask])
        kvs, mask = self.encode_text(ids, mask)
        x = temperature * jax.random.normal(key, (m,) + self.pos.shape[:1] + (self.out.out_features,), jnp.float32)
        dt = 1.0 / steps
        for i in range(steps):  # small and static: unrolled
            s = jnp.full((ids.shape[0],), i * dt, jnp.float32)
            if guided:
                v_c, v_u = jnp.split(self.velocity(jnp.concatenate([x, x]), s, kvs, mask), 2)
                v = v_u + guidance * (v_c - v_u)
            else:
                v = self.velocity(x, s, kvs, mask)
            x = x + dt * v
        return x / self.scale
