"""Byte-level text encoder: UTF-8 bytes (padded, masked) -> a (B, d_model) prompt embedding.

Bytes need no vocabulary or tokenizer download and cover any language; captions are short (< 200 bytes), so a
1-2 layer transformer over bytes is cheap next to the dynamics.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np
from flax import nnx

from worldsim.dynamics.config import DynamicsConfig
from worldsim.dynamics.layers import Block


def encode_prompts(prompts: Sequence[str | bytes], max_text_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """list of prompts -> (bytes int32 (B, max_text_bytes), mask bool (B, max_text_bytes)); padding is 0/False.

    Every row is padded to max_text_bytes, so all batches share one shape and a jitted model never retraces.
    """
    if isinstance(prompts, (str, bytes)):
        raise ValueError(f"prompts must be a list of prompts, got a single {type(prompts).__name__}: pass [prompt]")
    try:
        prompts = list(prompts)
    except TypeError:
        raise ValueError(f"prompts must be a list of str, got {type(prompts).__name__}") from None
    if not prompts:
        raise ValueError("prompts is empty: pass at least one prompt, or no text at all (text=None)")
    ids = np.zeros((len(prompts), max_text_bytes), np.int32)
    mask = np.zeros((len(prompts), max_text_bytes), bool)
    for i, p in enumerate(prompts):
        if isinstance(p, bytes):
            try:
                p.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ValueError(f"prompt {i} is not valid UTF-8 ({e.reason} at byte {e.start}): pass a str") from None
            raw = p
        elif isinstance(p, str):
            try:
                raw = p.encode("utf-8")
            except UnicodeEncodeError as e:  # a lone surrogate (e.g. half of an emoji cut off)
                raise ValueError(f"prompt {i} holds a character UTF-8 cannot encode ({e.reason}, {p[e.start]!r} at "
                                 f"position {e.start}): pass text without it") from None
        else:
            raise ValueError(f"prompt {i} is a {type(p).__name__}, not a str: pass text prompts (or text=None)")
        if not raw.strip():
            raise ValueError(f"prompt {i} is empty: write a caption, or pass text=None for no text")
        if len(raw) > max_text_bytes:
            raise ValueError(
                f"prompt {i} is {len(raw)} bytes in UTF-8 but this model takes at most {max_text_bytes} "
                "(DynamicsConfig.max_text_bytes): shorten the prompt or train a model with a larger max_text_bytes"
            )
        if b"\x00" in raw:  # NUL is the first-frame prior's "no caption" marker (prior.null_prompt)
            raise ValueError(f"prompt {i} holds a NUL byte (\\x00), which means 'no caption' to the model: pass the "
                             "text without it")
        ids[i, : len(raw)] = np.frombuffer(raw, np.uint8)
        mask[i, : len(raw)] = True
    return ids, mask


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
