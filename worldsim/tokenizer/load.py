"""Model-only tokenizer checkpoints: export (orbax params + config.json) and load, without training code."""

from __future__ import annotations

import json
from pathlib import Path

from flax import nnx

from worldsim.io.params import export_params, restore_params
from worldsim.tokenizer.config import TokenizerConfig
from worldsim.tokenizer.model import Tokenizer

KIND = "worldsim.tokenizer"


def export(model: Tokenizer, directory: str | Path, extra: dict | None = None) -> Path:
    """Write `directory/params` (orbax) and `directory/config.json`; overwrites an earlier export."""
    return export_params(model, directory, KIND, extra)


DEFAULT = Path(__file__).resolve().parent.parent / "assets" / "tokenizer"  # shipped weights (package data)


def load(directory: str | Path = "default") -> Tokenizer:
    """A Tokenizer from an `export` directory, or "default" for the shipped one."""
    directory = DEFAULT if str(directory) == "default" else Path(directory)
    cfg_path = directory / "config.json"
    if not cfg_path.exists():
        raise FileNotFoundError(f"no tokenizer at {directory}: expected {cfg_path} (made by worldsim.tokenizer.export)")
    meta = json.loads(cfg_path.read_text())
    if meta.get("kind") != KIND:
        raise ValueError(f"{directory} holds a {meta.get('kind', 'unknown')!r} checkpoint, not a tokenizer")
    try:
        cfg = TokenizerConfig.from_dict(meta["model"])
    except TypeError as e:
        raise ValueError(f"{cfg_path} does not match this version's TokenizerConfig ({e}); re-export it") from e
    return restore_params(directory, nnx.eval_shape(lambda: Tokenizer(cfg, rngs=nnx.Rngs(0))), "tokenizer")
