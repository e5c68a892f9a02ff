"""Transformer pieces shared by the dynamics, text encoder and flow head: attention, RoPE, MLP."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx


def attend(q, k, v, mask=None):
    """Softmax attention. q (..., Sq, H, hd), k/v (..., Sk, H, hd), bool mask broadcastable to (..., H, Sq, Sk).

    Plain einsum (not jax.nn.dot_product_attention) so any number of leading axes works without folding, and the
    cached and teacher-forced paths run the very same code. Every row must keep at least one visible key.
    """
    logits = jnp.einsum("...qhd,...khd->...hqk", q, k) / jnp.sqrt(jnp.float32(q.shape[-1]))
    return attend_logits(logits, v, mask)


def attend_logits(logits, v, mask=None):
    """Softmax over the last axis of logits (..., H, Sq, Sk), then weight v (..., Sk, H, hd) -> (..., Sq, H, hd)."""
    if mask is not None:
        logits = jnp.where(mask, logits, jnp.finfo(logits.dtype).min)
    w = jax.nn.softmax(logits, axis=-1)
    return jnp.einsum("...hqk,...khd->...qhd", w, v)


def rope(x, pos, base: float):
    """Rotary embedding over the sequence axis. x (..., S, H, hd), pos (S,) absolute positions (any numeric dtype)."""
    half = x.shape[-1] // 2
    inv_freq = base ** (-jnp.arange(half, dtype=jnp.float32) / half)
    ang = jnp.asarray(pos, jnp.float32)[:, None] * inv_freq  # (S, hd/2)
    cos, sin = jnp.cos(ang)[:, None, :], jnp.sin(ang)[:, None, :]  # (S, 1, hd/2): broadcast over heads
    x1, x2 = x[..., :half], x[..., half:]
    return jnp.concatenate([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1)


class QKV(nnx.Module):
    """Joint q/k/v projection and output projection for `heads` heads of width d / heads."""

    def __init__(self, d: int, heads: int, *, rngs: nnx.Rngs):
        self.heads = heads
        self.qkv = nnx.Linear(d, 3 * d, use_bias=False, rngs=rngs)
        self.out = nnx.Linear(d, d, rngs=rngs)

    def split(self, x):  # (..., S, d) -> 3 x (..., S, H, hd)
        q, k, v = jnp.split(self.qkv(x), 3, axis=-1)
        shape = x.shape[:-1] + (self.heads, x.shape[-1] // self.heads)
        return q.reshape(shape), k.reshape(shape), v.reshape(shape)

    def merge(self, o):  # (..., S, H, hd) -> (..., S, d)
        return self.out(o.reshape(o.shape[:-2] + (-1,)))

    def __call__(self, x, mask=None):
        """Plain (non-rotary) self-attention over axis -2 of x (..., S, d)."""
        q, k, v = self.split(x)
        return self.merge(attend(q, k, v, mask))


class Mlp(nnx.Module):
    def __init__(self, d: int, hidden: int, *, rngs: nnx.Rngs):
        self.fc1 = nnx.Linear(d, hidden, rngs=rngs)
        self.fc2 = nnx.Linear(hidden, d, rngs=rngs)

    def __call__(self, x):
        return self.fc2(nnx.gelu(self.fc1(x)))


def count_params(module: nnx.Module) -> int:
    return sum(int(p.size) for p in jax.tree.leaves(nnx.state(module, nnx.Param)))


class Block(nnx.Module):
    """Pre-RMSNorm transformer block over axis -2 with an optional bool attention mask (..., H|1, S, S)."""

    def __init__(self, d: int, heads: int, mlp_hidden: int, *, rngs: nnx.Rngs):
        self.n1 = nnx.RMSNorm(d, rngs=rngs)
        self.attn = QKV(d, heads, rngs=rngs)
        self.n2 = nnx.RMSNorm(d, rngs=rngs)
        self.mlp = Mlp(d, mlp_hidden, rngs=rngs)

    def __call__(self, x, mask=None):
        x = x + self.attn(self.n1(x), mask)
        return x + self.mlp(self.n2(x))
