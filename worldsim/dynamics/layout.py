"""Layout prior: prompt -> per-colour object layout -> first latent frame, for episodes that start from text alone.

Why beside the first-frame prior (prior.py): that one learns a caption only through a flow loss on whole latent
frames, in which which ball sits where is a small part of 1,024 values. On the CPU it learned what a scene looks
like long before what a caption asks for (count and colours right in 6-28% of samples; experiments/default/
results.md). Where the training worlds carry ground-truth state, what a caption says can be learned directly:

- a parser reads, for each colour slot, whether the prompt puts a ball of that colour in the scene, and a
  distribution over its place and size: supervised per slot (presence by binary cross-entropy, place and size by a
  diagonal Gaussian's likelihood);
- a renderer learns the latent frame a layout makes, by regression (a frame is a function of its state): each
  ball's features are splatted onto the latent cells around it, then convolutions mix neighbouring cells.

Text to layout to image is the factorisation of layout-grounded text-to-image models (Hong et al., 2018,
"Inferring Semantic Layout for Hierarchical Text-to-Image Synthesis"; Lian et al., 2023, "LLM-grounded
Diffusion"); here both stages are small and learned from the worlds' data. Training needs per-colour states, so
plain video keeps the flow prior.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from worldsim.dynamics.config import DynamicsConfig
from worldsim.dynamics.layers import Mlp
from worldsim.dynamics.prior import ByteEncoder, CrossAttention

FREQS = (0.5, 1.0, 2.0)  # Fourier features of a cell's offset from a ball's centre, in cycles per cell
REACH = 2.5  # cells from a ball's centre its splatted features reach (a ball spans under one cell here)
LOG_STD = (-7.0, 2.0)  # range of the parser's log standard deviations (world units), for a stable likelihood


class Layout(NamedTuple):
    """Objects by colour slot: present (M, C) bool, xy (M, C, 2) centres and radius (M, C), in world units (the
    box is [0, 1]^2, y down)."""

    present: jax.Array
    xy: jax.Array
    radius: jax.Array


def other_pairs(present) -> jax.Array:
    """(..., C) present slots -> (..., C, C): whether (i, j) are two different present balls."""
    c = present.shape[-1]
    return present[..., :, None] & present[..., None, :] & ~jnp.eye(c, dtype=bool)


def offsets(xy) -> tuple[jax.Array, jax.Array]:
    """Centres (..., C, 2) -> (centre i minus centre j (..., C, C, 2), their distance (..., C, C); never 0, so its
    gradient stays finite on the diagonal)."""
    off = xy[..., :, None, :] - xy[..., None, :, :]
    return off, jnp.sqrt(jnp.sum(off**2, -1) + 1e-12)


class LayoutParse(NamedTuple):
    """What a prompt says, per colour slot: presence logit (M, C); mean and log std (M, C, 3) of (x, y, radius)."""

    logit: jax.Array
    mean: jax.Array
    log_std: jax.Array


class ReadBlock(nnx.Module):
    """Colour-slot queries read the prompt: cross-attention to its byte pairs, then an MLP (pre-norm residual)."""

    def __init__(self, d: int, heads: int, *, rngs: nnx.Rngs):
        self.n1 = nnx.RMSNorm(d, rngs=rngs)
        self.cross = CrossAttention(d, d, heads, rngs=rngs)
        self.n2 = nnx.RMSNorm(d, rngs=rngs)
        self.mlp = Mlp(d, 2 * d, rngs=rngs)

    def __call__(self, q, ctx, mask):
        q = q + self.cross(self.n1(q), self.cross.keys_values(ctx), mask)
        return q + self.mlp(self.n2(q))


class ConvMix(nnx.Module):
    """Residual 3x3 convolution over the latent grid, then an MLP: how neighbouring balls' features combine."""

    def __init__(self, h: int, *, rngs: nnx.Rngs):
        self.norm = nnx.RMSNorm(h, rngs=rngs)
        self.conv = nnx.Conv(h, h, kernel_size=(3, 3), padding="SAME", rngs=rngs)
        self.norm2 = nnx.RMSNorm(h, rngs=rngs)
        self.mlp = Mlp(h, 2 * h, rngs=rngs)

    def __call__(self, x):
        x = x + self.conv(self.norm(x))
        return x + self.mlp(self.norm2(x))


def _offset_features(rel, r):
    """rel (..., 2) a cell's offset from a ball's centre and r (..., 1) its radius, both in cells -> features."""
    dist = jnp.sqrt(jnp.sum(rel**2, -1, keepdims=True) + 1e-6)
    ang = 2 * math.pi * rel[..., None, :] * jnp.asarray(FREQS)[:, None]  # (..., F, 2)
    fourier = jnp.concatenate([jnp.sin(ang), jnp.cos(ang)], -1).reshape(rel.shape[:-1] + (-1,))
    return jnp.concatenate([rel, r, dist - r, fourier], -1), dist


class LayoutRenderer(nnx.Module):
    """Layout -> latent frame (M, g, g, D)."""

    def __init__(self, cfg: DynamicsConfig, *, rngs: nnx.Rngs):
        h, g = cfg.layout_render_dim, cfg.grid
        self.grid = g
        self.colour = nnx.Embed(cfg.num_colours, h, rngs=rngs)
        self.inp = nnx.Linear(4 + 4 * len(FREQS), h, rngs=rngs)
        self.splat_norm = nnx.RMSNorm(h, rngs=rngs)
        self.splat = Mlp(h, 2 * h, rngs=rngs)
        self.background = nnx.Param(jnp.zeros((g, g, h)))
        self.mix = nnx.List([ConvMix(h, rngs=rngs) for _ in range(cfg.layout_render_layers)])
        self.norm = nnx.RMSNorm(h, rngs=rngs)
        self.out = nnx.Linear(h, cfg.latent_dim, rngs=rngs)

    def __call__(self, layout: Layout) -> jax.Array:
        g, (m, c) = self.grid, layout.present.shape
        centres = jnp.arange(g, dtype=jnp.float32) + 0.5
        cells = jnp.stack(jnp.meshgrid(centres, centres, indexing="xy"), -1).reshape(g * g, 2)  # (G, 2) as (x, y)
        rel = layout.xy[:, :, None, :] * g - cells  # (M, C, G, 2), in cells
        r = jnp.broadcast_to((layout.radius * g)[:, :, None, None], rel.shape[:-1] + (1,))
        feats, dist = _offset_features(rel, r)
        x = self.inp(feats) + self.colour(jnp.arange(c))[None, :, None, :]
        x = x + self.splat(self.splat_norm(x))
        # a ball's features fade out REACH cells away, so how many absent or distant balls there are never matters
        w = layout.present[:, :, None, None] * jax.nn.sigmoid(4.0 * (REACH - dist))
        grid = jnp.sum(w * x, axis=1).reshape(m, g, g, -1) + self.background[...]
        for blk in self.mix:
            grid = blk(grid)
        return self.out(self.norm(grid))


class LayoutPrior(nnx.Module):
    """Prompt bytes -> LayoutParse -> sampled Layout -> first latent frame."""

    def __init__(self, cfg: DynamicsConfig, *, rngs: nnx.Rngs):
        d = cfg.layout_dim
        self.text = ByteEncoder(d, cfg.layout_text_layers, cfg.layout_heads, rngs=rngs)
        self.queries = nnx.Param(0.02 * nnx.initializers.normal(1.0)(rngs.params(), (cfg.num_colours, d)))
        self.read = nnx.List([ReadBlock(d, cfg.layout_heads, rngs=rngs) for _ in range(2)])
        self.norm = nnx.RMSNorm(d, rngs=rngs)
        self.head = nnx.Linear(d, 7, rngs=rngs)
        self.render = LayoutRenderer(cfg, rngs=rngs)

    def parse(self, ids, mask) -> LayoutParse:
        """bytes (M, L) int32 + mask (M, L) -> what they say per colour slot."""
        ctx, m = self.text(ids, mask)
        q = jnp.broadcast_to(self.queries[...], (ids.shape[0],) + self.queries.shape)
        for blk in self.read:
            q = blk(q, ctx, m)
        y = self.head(self.norm(q))
        return LayoutParse(logit=y[..., 0], mean=y[..., 1:4], log_std=jnp.clip(y[..., 4:7], *LOG_STD))

    def loss(self, ids, mask, layout: Layout, latents, weights=None) -> tuple[jax.Array, dict]:
        """Parser loss (presence BCE + Gaussian NLL of present slots' x, y, radius) + renderer loss (MSE of the
        latent frame (M, g, g, D) the true layout makes). weights (M,): per-example weights, None = all 1 (0 for
        frames without a caption: they train only the renderer)."""
        p = self.parse(ids, mask)
        w = jnp.ones(layout.present.shape[:1]) if weights is None else jnp.asarray(weights, jnp.float32)
        present = layout.present.astype(jnp.float32)
        bce = jnp.sum(w[:, None] * optax.sigmoid_binary_cross_entropy(p.logit, present)) / jnp.maximum(
            jnp.sum(w) * present.shape[1], 1.0)
        target = jnp.concatenate([layout.xy, layout.radius[..., None]], -1)
        z = (target - p.mean) * jnp.exp(-p.log_std)
        # beta-NLL with beta = 1/2 (Seitzer et al., 2022): each term weighted by its (constant) std, so the mean's
        # gradient is the standardised residual z. Plain NLL scales it by 1/std^2, which for radii (std ~0.005)
        # drowned every other term's gradient in the shared byte encoder: a caption's colours went unread.
        slot_w = (w[:, None] * present)[..., None] * jax.lax.stop_gradient(jnp.exp(p.log_std))
        nll = jnp.sum(slot_w * (0.5 * z**2 + p.log_std)) / jnp.maximum(3.0 * jnp.sum(w[:, None] * present), 1.0)
        mse = jnp.mean((self.render(layout) - latents) ** 2)
        return bce + nll + mse, {"layout_bce": bce, "layout_nll": nll, "layout_render_mse": mse}

    def sample_layout(self, ids, mask, key, temperature: float = 1.0, tries: int = 16) -> Layout:
        """A layout per prompt. Presence is drawn from sigmoid(logit / temperature) (temperature 0: logit > 0);
        sizes and places from the Gaussians with their std scaled by temperature. Each ball is kept inside the
        box, and takes the first of `tries` drawn places that clears the balls placed before it (1 = no such
        check), as no world starts with balls overlapping."""
        if tries < 1:
            raise ValueError(f"tries={tries}: draw at least one place per ball")
        p = self.parse(ids, mask)
        k_p, k_r, k_xy = jax.random.split(key, 3)
        std = jnp.exp(p.log_std) * temperature
        drawn = jax.random.uniform(k_p, p.logit.shape) < jax.nn.sigmoid(p.logit / jnp.maximum(temperature, 1e-6))
        present = jnp.where(temperature > 0, drawn, p.logit > 0)  # temperature may be traced
        radius = jnp.clip(p.mean[..., 2] + std[..., 2] * jax.random.normal(k_r, p.logit.shape), 0.01, 0.25)
        m, c = p.logit.shape
        cand = p.mean[:, :, None, :2] + std[:, :, None, :2] * jax.random.normal(k_xy, (m, c, tries, 2))
        cand = jnp.clip(cand, radius[:, :, None, None], 1.0 - radius[:, :, None, None])  # (M, C, tries, 2)
        xy = jnp.zeros((m, c, 2))
        for i in range(c):  # few slots: unrolled
            gap = jnp.linalg.norm(cand[:, i, :, None, :] - xy[:, None, :, :], axis=-1)  # (M, tries, C)
            earlier = present & (jnp.arange(c) < i)  # (M, C)
            clear = jnp.all((gap > radius[:, i, None, None] + radius[:, None, :]) | ~earlier[:, None, :], -1)
            xy = xy.at[:, i].set(cand[jnp.arange(m), i, jnp.argmax(clear, -1)])  # none clear: the first draw
        return Layout(present=present, xy=xy, radius=radius)

    def sample(self, ids, mask, key, temperature: float = 1.0, tries: int = 16) -> jax.Array:
        """First latent frames (M, g, g, D) for prompts' bytes (M, L) + mask (M, L)."""
        return self.render(self.sample_layout(ids, mask, key, temperature, tries))
