"""Byte-level text encoder: UTF-8 bytes (padded, masked) -> a (B, d_model) prompt embedding.

Bytes need no vocabulary or tokenizer download and cover any language; captions are short (< 200 bytes), so a
1-2 layer transformer over bytes is cheap next to the dynamics.
"""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from worldsim.data.prompts import encode_prompts  # noqa: F401  (re-exported: the model's own input format)
from worldsim.dynamics.config import DynamicsConfig
from worldsim.dynamics.layers import Block


class TextEncoder(nnx.Module):
    """bytes (B, L) + mask -> (B, d_model). Rows whose mask is all False give zeros (the model swaps in its
    learned no-text vector there, which is how text dropout for classifier-free guidance is expressed)."""

    def __init__(self, cfg: DynamicsConfig, *, rngs: nnx.Rngs):
        self.embed = nnx.Embed(256, cfg.text_dim, rngs=rngs)
        self.pos = nnx.Param(0.02 * nnx.initializers.normal(1.0)(rngs.params(), (cfg.max_text_bytes, cfg.text_dim)))
        self.blocks = nnx.List(
            [Block(cfg.text_dim, cfg.text_heads, 4 * cfg.text_dim, rngs=rngs) for _ in range(cfg.text_layers)]
        )
        self.norm = nnx.RMSNorm(cfg.text_dim, rngs=rngs)
        self.out = nnx.Linear(cfg.text_dim, cfg.d_model, rngs=rngs)

    def __call__(self, ids, mask):
        m = mask.astype(bool)
        x = self.embed(ids) + self.pos[...][: ids.shape[1]]  # (B, L, text_dim)
        keys = m[:, None, None, :]  # (B, 1, 1, L): padding is never attended to
        for blk in self.blocks:
            x = blk(x, keys)
        w = m[..., None].astype(x.dtype)
        pooled = (self.norm(x) * w).sum(1) / jnp.maximum(w.sum(1), 1.0)  # masked mean over bytes
        return self.out(pooled) * m.any(-1, keepdims=True)
