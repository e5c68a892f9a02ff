"""The causal spacetime-patch tokenizer (video autoencoder)."""

from worldsim.tokenizer.config import TokenizerConfig
from worldsim.tokenizer.model import Tokenizer

__all__ = ["Tokenizer", "TokenizerConfig"]
