"""Tokenizer (model) configuration. Training settings live apart, in worldsim.train.tokenizer."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class TokenizerConfig:
    """A causal spacetime-patch autoencoder: 64x64 frames -> (64/patch)^2 latent tokens per frame."""

    resolution: int = 64  # input frames are resolution x resolution RGB
    patch: int = 8  # spatial tubelet size: one latent token per patch x patch pixels
    tubelet_t: int = 1  # temporal tubelet size (frames per latent frame after the first); 1 = one latent per frame
    widths: tuple[int, ...] = (48, 96, 128)  # channels at each scale: resolution/2, then halving down to the grid
    latent_dim: int = 16  # values per latent token
    quantizer: str = "none"  # "none" (continuous, tanh-bounded) or "fsq" (finite scalar quantization)
    fsq_levels: tuple[int, ...] = (8, 8, 8, 5, 5, 5)  # per-dim levels when quantizer == "fsq" (latent_dim = len)
    temporal_context: bool = True  # each latent also sees the previous frame (causal), so it can carry motion

    def __post_init__(self):
        if self.resolution % self.patch:
            raise ValueError(f"resolution {self.resolution} is not divisible by patch {self.patch}")
        scales = len(self.widths)
        if self.patch != 2**scales:
            raise ValueError(f"patch={self.patch} needs len(widths) == log2(patch); got {scales} widths")
        if self.tubelet_t != 1:
            raise ValueError("tubelet_t > 1 is not supported yet: use 1 (one latent frame per video frame)")
        if self.quantizer not in ("none", "fsq"):
            raise ValueError(f"quantizer={self.quantizer!r}: use 'none' or 'fsq'")
        if self.quantizer == "fsq" and len(self.fsq_levels) != self.latent_dim:
            raise ValueError(f"fsq needs latent_dim == len(fsq_levels) = {len(self.fsq_levels)}")

    @property
    def grid(self) -> int:
        return self.resolution // self.patch

    @property
    def tokens_per_frame(self) -> int:
        return self.grid**2

    @property
    def compression(self) -> float:
        """Pixel values per latent value."""
        return (self.resolution**2 * 3) / (self.tokens_per_frame * self.latent_dim)

    def replace(self, **kw) -> "TokenizerConfig":
        return dataclasses.replace(self, **kw)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TokenizerConfig":
        d = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**d)

    @classmethod
    def tiny(cls) -> "TokenizerConfig":
        """Trains in seconds at 32x32: for tests."""
        return cls(resolution=32, patch=8, widths=(8, 16, 16), latent_dim=8)

    @classmethod
    def small(cls) -> "TokenizerConfig":
        """The shipped default's tokenizer: 64x64 -> 8x8 tokens of 16 values (24x fewer values)."""
        return cls()
