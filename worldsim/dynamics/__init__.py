"""Latent dynamics: a space/time-factorized causal transformer over tokenizer latents, with a rolling KV cache,
a byte-level text encoder, a flow-matching next-frame head and a physics state readout."""

from worldsim.dynamics.cache import Cache
from worldsim.dynamics.config import DynamicsConfig
from worldsim.dynamics.flow import FlowHead, flow_loss, integrate, sample
from worldsim.dynamics.load import export as export_model, load as load_model
from worldsim.dynamics.losses import teacher_forced_loss
from worldsim.dynamics.model import DynamicsModel
from worldsim.dynamics.state import StatePred, state_loss, states_by_colour
from worldsim.dynamics.text import TextEncoder, encode_prompts
from worldsim.dynamics.tokens import from_tokens, to_tokens

__all__ = [
    "Cache", "DynamicsConfig", "DynamicsModel", "FlowHead", "StatePred", "TextEncoder", "encode_prompts",
    "export_model", "flow_loss", "from_tokens", "integrate", "load_model", "sample", "state_loss", "states_by_colour",
    "teacher_forced_loss", "to_tokens",
]
