"""`WorldModel`: the tokenizer and the dynamics model that together make a simulator, plus what callers need to
know about them (frame size, action size, prompt length)."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from worldsim.dynamics import DynamicsConfig, DynamicsModel
from worldsim.dynamics.load import UNTRAINED_STATE_HEAD
from worldsim.io.params import abstract_model
from worldsim.tokenizer import Tokenizer, TokenizerConfig


def check_pair(tok_cfg: TokenizerConfig, dyn_cfg: DynamicsConfig, where: str = "") -> None:
    """The dynamics must model the tokenizer's latents: same grid side and values per cell."""
    if (tok_cfg.grid, tok_cfg.latent_dim) != (dyn_cfg.grid, dyn_cfg.latent_dim):
        raise ValueError(
            f"{where}the dynamics model expects {dyn_cfg.grid}x{dyn_cfg.grid}x{dyn_cfg.latent_dim} latents but the "
            f"tokenizer makes {tok_cfg.grid}x{tok_cfg.grid}x{tok_cfg.latent_dim}: pair the dynamics with the "
            "tokenizer it was trained on (its config.json records it under ['tokenizer']['path'])"
        )


@dataclass(frozen=True)
class Sampling:
    """How a model is best sampled (measured per model; experiments/default/results.md for the default), used by
    Simulator and the evaluation adapter unless overridden.

    temperature: scale of the flow's starting noise for each next frame (0 = the mean flow). reproject: decode each
    new latent frame and encode it again with the previous frame (the tokenizer's whole temporal context), pulling
    drifting latents back onto the ones real frames make; costs one decode + encode per step, also with
    decode=False. first_temperature: the noise scale of a first frame drawn from the prompt alone (for a layout
    prior: the spread of the balls' places and sizes). A caption leaves positions open, so a low temperature
    there averages the possible scenes into faint smears (a flow's draw) or puts every ball at its mean place (a
    layout's); next frames are nearly determined by the past, where a low temperature curbs drift.
    first_guidance: classifier-free guidance of that first frame towards the prompt, for a model with a
    first-frame prior and no layout prior (1 = none). Every generated frame is the latent model's own sample: the
    settings of earlier exports may carry an "anchor" key (the object anchor, since removed), which is ignored."""

    temperature: float = 1.0
    reproject: bool = False
    first_temperature: float = 1.0
    first_guidance: float = 1.0

    @classmethod
    def from_dict(cls, d: dict | None) -> "Sampling":
        """From an export's config.json ["sampling"]; a junk value is refused by name (not float()'s error)."""
        d = d or {}
        if not isinstance(d, dict):
            raise ValueError(f"config.json 'sampling' must be an object, got {d!r}: re-export the model, or remove "
                             "the entry to use the defaults")
        kw = {}
        for name, default in (("temperature", 1.0), ("first_temperature", 1.0), ("first_guidance", 1.0)):
            v = d.get(name, default)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < float("inf"):
                raise ValueError(f"config.json sampling.{name}={v!r}: use a finite number >= 0 (or remove it for "
                                 f"the default, {default})")
            kw[name] = float(v)
        for name in ("reproject",):  # an "anchor" entry (the removed object anchor) is ignored
            v = d.get(name, False)
            if not isinstance(v, bool):
                raise ValueError(f"config.json sampling.{name}={v!r}: use true or false (or remove it for false)")
            kw[name] = v
        return cls(**kw)

    def to_dict(self) -> dict:
        return {"temperature": self.temperature, "reproject": self.reproject,
                "first_temperature": self.first_temperature, "first_guidance": self.first_guidance}


class WorldModel(nnx.Module):
    """tokenizer (frames <-> latents) + dynamics (latents forward in time). An nnx Module, hence a pytree: pass
    it straight to jax.jit / jax.vmap(in_axes=None) / lax.scan closures, as the pure core in worldsim.sim does."""

    def __init__(self, tokenizer: Tokenizer, dynamics: DynamicsModel, source: str = "memory",
                 sampling: Sampling | None = None, untrained_state_head: bool = False):
        check_pair(tokenizer.config, dynamics.config)
        self.tokenizer = tokenizer
        self.dynamics = dynamics
        self.source = source  # where it was loaded from ("default", a path, or "random"); static metadata
        self.sampling = sampling or Sampling()  # recommended sampling settings; static metadata
        # The export's state head never saw a labelled clip, so loading left it out (dynamics.load); static metadata
        # that says why there is no readout
        self.untrained_state_head = bool(untrained_state_head) and dynamics.state_head is None

    @property
    def resolution(self) -> int:
        """Frames are resolution x resolution RGB uint8."""
        return self.tokenizer.config.resolution

    @property
    def action_dim(self) -> int:
        """Length of the per-step action vector."""
        return self.dynamics.config.action_dim

    @property
    def max_text_bytes(self) -> int:
        """Longest prompt, in UTF-8 bytes."""
        return self.dynamics.config.max_text_bytes

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        """(g, g, D) of one latent frame."""
        return self.dynamics.config.latent_shape

    @property
    def has_state_head(self) -> bool:
        """Whether the dynamics reads physical state (per-colour position, velocity, presence) from its latents."""
        return self.dynamics.state_head is not None

    @property
    def no_readout(self) -> str | None:
        """Why this model has no physics readout (None when it has one): what refusals that need one say."""
        if self.has_state_head:
            return None
        if self.untrained_state_head:
            return UNTRAINED_STATE_HEAD
        return "this model has no state head (DynamicsConfig.state_head=False): use a task without a readout"

    @classmethod
    def random(cls, tiny: bool = True, seed: int = 0, tokenizer_config: TokenizerConfig | None = None,
               dynamics_config: DynamicsConfig | None = None) -> "WorldModel":
        """Randomly initialised tokenizer + dynamics with matching latents (tiny presets by default), for tests.

        Weights are drawn with numpy (kernels N(0, 1/fan_in), norm scales 1 + noise, biases small noise) rather
        than by flax's initialisers: those compile one program per parameter shape (~20 s for the tiny pair on
        2 cores), and their zero-initialised output layers (flow head, modulation) would hide how outputs depend
        on inputs. Same seed, same weights.
        """
        tok_cfg = tokenizer_config or (TokenizerConfig.tiny() if tiny else TokenizerConfig.small())
        dyn_cfg = dynamics_config or (DynamicsConfig.tiny() if tiny else DynamicsConfig.for_tokenizer(tok_cfg))
        abstract = abstract_model(lambda: cls(Tokenizer(tok_cfg, rngs=nnx.Rngs(0)),
                                              DynamicsModel(dyn_cfg, rngs=nnx.Rngs(0)), source="random"))
        graphdef, params, rest = nnx.split(abstract, nnx.Param, ...)
        rng = np.random.default_rng(seed)

        def draw(path, leaf):
            name = str(getattr(path[-1], "key", path[-1]))
            noise = rng.normal(size=leaf.shape).astype(np.float32)
            if len(leaf.shape) >= 2:
                value = noise / np.sqrt(np.prod(leaf.shape[:-1]), dtype=np.float32)
            else:
                value = 1.0 + 0.1 * noise if name == "scale" else 0.1 * noise
            return jnp.asarray(value)  # on device once, not copied in at every call

        pure = nnx.to_pure_dict(params)
        nnx.replace_by_pure_dict(params, jax.tree_util.tree_map_with_path(draw, pure))
        return nnx.merge(graphdef, params, rest)
