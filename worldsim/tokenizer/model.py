"""The causal spacetime-patch tokenizer: per-frame conv encoder, a causal temporal mix, per-frame conv decoder.

Frames (B, T, H, W, 3) -> latents (B, T, g, g, D), g = H / patch. Latent t sees frames t and t-1 only (the first
frame is encoded on its own), so encoding a prefix gives the prefix of the latents; each frame decodes from its own
latent, so the dynamics model can generate and show one latent frame at a time.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from worldsim.tokenizer.checks import check_frames, check_latents
from worldsim.tokenizer.config import TokenizerConfig
from worldsim.tokenizer.fsq import fsq


class ResBlock(nnx.Module):
    """Pre-norm residual block. GroupNorm keeps activations at unit scale: without it the sparse ball frames
    sat on the predict-black plateau (15.5 dB) for hundreds of steps."""

    def __init__(self, ch: int, *, rngs: nnx.Rngs):
        groups = min(8, ch)
        self.n1 = nnx.GroupNorm(ch, num_groups=groups, rngs=rngs)
        self.c1 = nnx.Conv(ch, ch, (3, 3), rngs=rngs)
        self.n2 = nnx.GroupNorm(ch, num_groups=groups, rngs=rngs)
        # Zero-initialised second conv: every block starts as the identity, which keeps early training stable.
        self.c2 = nnx.Conv(ch, ch, (3, 3), kernel_init=nnx.initializers.zeros, rngs=rngs)

    def __call__(self, x):
        return x + self.c2(nnx.silu(self.n2(self.c1(nnx.silu(self.n1(x))))))


def space_to_depth(x, s: int):
    n, h, w, c = x.shape
    x = x.reshape(n, h // s, s, w // s, s, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(n, h // s, w // s, s * s * c)


def depth_to_space(x, s: int):
    n, h, w, c = x.shape
    x = x.reshape(n, h, w, s, s, c // (s * s)).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(n, h * s, w * s, c // (s * s))


class Encoder(nnx.Module):
    def __init__(self, cfg: TokenizerConfig, *, rngs: nnx.Rngs):
        w = cfg.widths
        self.stem = nnx.Conv(12, w[0], (3, 3), rngs=rngs)
        self.blocks = nnx.List([ResBlock(c, rngs=rngs) for c in w])
        self.downs = nnx.List([nnx.Conv(w[i], w[i + 1], (4, 4), strides=2, rngs=rngs) for i in range(len(w) - 1)])
        c = w[-1]
        self.temporal = nnx.Conv(2 * c + 1, c, (1, 1), rngs=rngs) if cfg.temporal_context else None
        self.mix = ResBlock(c, rngs=rngs)
        self.out = nnx.Conv(c, cfg.latent_dim, (1, 1), rngs=rngs)

    def __call__(self, x):  # (B,T,H,W,3) float in [0,1] -> (B,T,g,g,D) pre-bottleneck
        b, t = x.shape[:2]
        h = space_to_depth(x.reshape((b * t,) + x.shape[2:]) * 2.0 - 1.0, 2)
        h = self.blocks[0](self.stem(h))
        for down, block in zip(self.downs, self.blocks[1:]):
            h = block(down(nnx.silu(h)))
        h = h.reshape((b, t) + h.shape[1:])  # (B,T,g,g,C)
        if self.temporal is not None:
            prev = jnp.concatenate([jnp.zeros_like(h[:, :1]), h[:, :-1]], axis=1)  # causal: frame t-1 (none for t=0)
            first = jnp.zeros(h.shape[:-1] + (1,), h.dtype).at[:, 0].set(1.0)
            h = h + self.temporal(jnp.concatenate([h, prev, first], -1))
        h = self.mix(h.reshape((b * t,) + h.shape[2:]))
        z = self.out(nnx.silu(h))
        return z.reshape((b, t) + z.shape[1:])


class Decoder(nnx.Module):
    def __init__(self, cfg: TokenizerConfig, *, rngs: nnx.Rngs):
        w = cfg.widths
        self.inp = nnx.Conv(cfg.latent_dim, w[-1], (1, 1), rngs=rngs)
        self.blocks = nnx.List([ResBlock(c, rngs=rngs) for c in reversed(w)])
        self.ups = nnx.List(
            [nnx.ConvTranspose(w[i], w[i - 1], (4, 4), strides=(2, 2), rngs=rngs) for i in range(len(w) - 1, 0, -1)]
        )
        self.out = nnx.Conv(w[0], 12, (3, 3), rngs=rngs)

    def __call__(self, z):  # (B,T,g,g,D) -> (B,T,H,W,3) float, ~[0,1]
        b, t = z.shape[:2]
        h = self.blocks[0](self.inp(z.reshape((b * t,) + z.shape[2:])))
        for up, block in zip(self.ups, self.blocks[1:]):
            h = block(up(nnx.silu(h)))
        x = depth_to_space(self.out(nnx.silu(h)), 2) * 0.5 + 0.5
        return x.reshape((b, t) + x.shape[1:])


class Tokenizer(nnx.Module):
    """encode: uint8 frames -> latents; decode: latents -> uint8 frames. Float variants are for training."""

    def __init__(self, cfg: TokenizerConfig, *, rngs: nnx.Rngs):
        self.config = cfg
        self.encoder = Encoder(cfg, rngs=rngs)
        self.decoder = Decoder(cfg, rngs=rngs)

    def bottleneck(self, z):
        if self.config.quantizer == "fsq":
            return fsq(z, self.config.fsq_levels)
        return jnp.tanh(z)

    def encode_float(self, x):
        return self.bottleneck(self.encoder(x))

    def decode_float(self, z):
        return self.decoder(z)

    def __call__(self, x):
        return self.decode_float(self.encode_float(x))

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        """(g, g, D) of one latent frame."""
        c = self.config
        return (c.grid, c.grid, c.latent_dim)

    def encode(self, frames) -> jax.Array:
        """uint8 (B, T, H, W, 3) -> latents (B, T, g, g, D) float32."""
        return self.encode_float(check_frames(frames, self.config.resolution))

    def decode(self, latents) -> jax.Array:
        """latents (B, T, g, g, D) -> uint8 (B, T, H, W, 3)."""
        x = self.decode_float(check_latents(latents, self.latent_shape))
        return jnp.round(jnp.clip(x, 0.0, 1.0) * 255.0).astype(jnp.uint8)
