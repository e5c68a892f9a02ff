"""Dynamics (model) configuration. Training settings will live apart, in worldsim.train."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


# Settings of the object anchor's motion head, removed (issue #20): configs written before may still carry them.
REMOVED_KEYS = ("motion_head", "motion_layout", "motion_gate")


@dataclass(frozen=True)
class DynamicsConfig:
    """A space/time-factorized latent transformer over tokenizer latents (B, T, g, g, D).

    `group x group` latent cells make one token, so a frame is N = (g / group)^2 tokens of group^2 * D values.
    """

    grid: int = 8  # g: the tokenizer's latent grid side (TokenizerConfig.grid)
    latent_dim: int = 16  # D: values per latent cell (TokenizerConfig.latent_dim)
    group: int = 2  # group x group latent cells per token: fewer, fatter tokens keep attention cheap on CPU
    d_model: int = 128  # transformer width
    num_layers: int = 6  # space/time blocks (each: spatial attention, temporal attention, MLP)
    num_heads: int = 4  # attention heads (head_dim = d_model / num_heads, even for RoPE)
    mlp_ratio: int = 4  # MLP hidden width = mlp_ratio * d_model
    window: int = 8  # W: latent frames a frame attends to (itself included) besides the prompt; KV ring capacity
    rope_base: float = 10_000.0  # RoPE base over the absolute frame index
    max_text_bytes: int = 384  # prompts are UTF-8 bytes padded to this length (longer are refused); world captions reach ~380 with 6 balls
    text_dim: int = 96  # byte-level text encoder width (pooled and projected to d_model)
    text_layers: int = 2  # text encoder transformer layers
    text_heads: int = 4  # text encoder attention heads
    action_dim: int = 2  # per-step action vector size (worlds' push action is a 2-D kick)
    state_head: bool = True  # physics-aware readout of per-colour state; False for plain video without states
    num_colours: int = 6  # colour slots the state head predicts (the worlds' palette)
    noise_embed: bool = False  # each context frame's input carries an embedding of its noise level (diffusion
    # forcing: trained with independent per-frame context noise, told to the model; zero-initialised, so a model
    # fine-tuned from one without it starts out equal to it)
    frame_delta: bool = False  # each frame's input also carries its change from the frame before (z_t - z_{t-1}),
    # so the motion that a second-order world needs is an input feature, not something attention must subtract out
    # (GNS feeds its past velocities the same way); zero-initialised, so a model fine-tuned from one without it
    # starts out equal to it
    flow_dim: int = 128  # flow-matching denoiser width
    flow_layers: int = 3  # denoiser transformer layers over the N tokens of the next frame
    flow_heads: int = 4  # denoiser attention heads
    flow_steps: int = 8  # default Euler steps when sampling a frame
    prior_dim: int = 64  # first-frame prior width (prior.py); 0 = none: first frames from a prompt come from the flow head
    prior_layers: int = 3  # prior denoiser blocks (self-attention, cross-attention to the prompt's bytes, MLP)
    prior_heads: int = 4  # prior attention heads (denoiser and its byte encoder)
    prior_text_dim: int = 64  # the prior's own byte-encoder width (per-byte features, not pooled)
    prior_text_layers: int = 2  # the prior's byte encoder: local-mixing (convolution) layers before its one attention layer
    prior_scale: float = 1.0  # the prior works on latents * prior_scale: about 1 / their std gives the noise levels
    # of training and sampling unit-variance data (latent diffusion's scale factor; 3.98 for the shipped tokenizer)
    layout_dim: int = 0  # layout prior width (layout.py: prompt -> per-colour layout -> first frame); 0 = none.
    # Trained on per-colour states (experiments/default/train_layout.py); where a model has one it draws text-only
    # first frames instead of the first-frame prior
    layout_heads: int = 4  # layout prior attention heads (byte encoder and colour-slot queries)
    layout_text_layers: int = 4  # layout prior byte encoder: local-mixing layers before its attention layer
    layout_render_dim: int = 64  # layout renderer width (per-ball features splatted onto the latent grid)
    layout_render_layers: int = 2  # layout renderer: 3x3 convolution blocks over the grid

    def __post_init__(self):
        if self.grid < 1 or self.latent_dim < 1 or self.group < 1:
            raise ValueError(f"grid, latent_dim, group must be >= 1, got {self.grid}, {self.latent_dim}, {self.group}")
        if self.grid % self.group:
            raise ValueError(f"grid {self.grid} is not divisible by group {self.group}: pick a group that divides it")
        for name, width, heads in (
            ("d_model", self.d_model, self.num_heads),
            ("text_dim", self.text_dim, self.text_heads),
            ("flow_dim", self.flow_dim, self.flow_heads),
        ) + ((("prior_dim", self.prior_dim, self.prior_heads), ("prior_text_dim", self.prior_text_dim,
                                                                 self.prior_heads)) if self.prior_dim else ()):
            if heads < 1 or width % heads:
                raise ValueError(f"{name}={width} must be a positive multiple of its head count {heads}")
        for name in ("flow_dim",) + (("prior_dim", "prior_text_dim") if self.prior_dim else ()):
            if getattr(self, name) % 2:
                raise ValueError(f"{name}={getattr(self, name)} must be even (sinusoidal features)")
        if self.prior_dim < 0 or (self.prior_dim and min(self.prior_layers, self.prior_text_layers) < 1):
            raise ValueError(f"prior_dim={self.prior_dim} (0 = no prior) needs prior_layers and prior_text_layers "
                             f">= 1, got {self.prior_layers} and {self.prior_text_layers}")
        if self.layout_dim < 0 or (self.layout_dim and (
                self.layout_heads < 1 or self.layout_dim % (2 * self.layout_heads)
                or min(self.layout_text_layers, self.layout_render_dim, self.layout_render_layers) < 1)):
            raise ValueError(f"layout_dim={self.layout_dim} (0 = no layout prior) must be an even multiple of "
                             f"layout_heads={self.layout_heads}, with layout_text_layers, layout_render_dim and "
                             "layout_render_layers >= 1")
        if (self.d_model // self.num_heads) % 2:
            raise ValueError(f"head_dim = d_model / num_heads = {self.d_model // self.num_heads} must be even (RoPE)")
        for name in ("num_layers", "mlp_ratio", "window", "max_text_bytes", "text_layers", "action_dim",
                     "num_colours", "flow_layers", "flow_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 1")
        if not self.prior_scale > 0:
            raise ValueError(f"prior_scale={self.prior_scale} must be > 0 (about 1 / the latents' std)")
        if self.rope_base <= 1.0:
            raise ValueError(f"rope_base={self.rope_base} must be > 1")

    @property
    def tokens_per_side(self) -> int:
        return self.grid // self.group

    @property
    def tokens_per_frame(self) -> int:
        """N, tokens per frame."""
        return self.tokens_per_side**2

    @property
    def token_dim(self) -> int:
        """Values per token: group^2 * D."""
        return self.group**2 * self.latent_dim

    @property
    def head_dim(self) -> int:
        return self.d_model // self.num_heads

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        """(g, g, D) of one latent frame."""
        return (self.grid, self.grid, self.latent_dim)

    def replace(self, **kw) -> "DynamicsConfig":
        return dataclasses.replace(self, **kw)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DynamicsConfig":
        d = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        d.setdefault("prior_dim", 0)  # written before the first-frame prior existed: those models have none
        for name in REMOVED_KEYS:  # the object anchor's motion head, since removed: such a model's export carries
            d.pop(name, None)  # its parameters (under motion_head), which the loaders skip
        return cls(**d)

    @classmethod
    def for_tokenizer(cls, tok_cfg, **kw) -> "DynamicsConfig":
        """A small() dynamics sized for a given TokenizerConfig's latent grid."""
        return cls(grid=tok_cfg.grid, latent_dim=tok_cfg.latent_dim, **kw)

    @classmethod
    def tiny(cls) -> "DynamicsConfig":
        """Trains in seconds; matches TokenizerConfig.tiny() latents (4x4x8): 4 tokens of 32 values per frame."""
        return cls(
            grid=4, latent_dim=8, group=2, d_model=32, num_layers=2, num_heads=2, mlp_ratio=2, window=3,
            max_text_bytes=64, text_dim=32, text_layers=1, text_heads=2, flow_dim=32, flow_layers=1, flow_heads=2,
            flow_steps=4, prior_dim=0,
        )

    @classmethod
    def small(cls) -> "DynamicsConfig":
        """The shipped default's dynamics (about 3.4M parameters, 0.39M of them the first-frame prior) over
        TokenizerConfig.small() latents (8x8x16)."""
        return cls()
