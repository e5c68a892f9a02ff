"""Model-only tokenizer checkpoints: export (orbax params + config.json) and load, without training code."""

from __future__ import annotations

from pathlib import Path

from flax import nnx

from worldsim.io.params import CHECKSUMS, abstract_model, export_params, read_export_meta, restore_params
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
    meta = read_export_meta(directory, KIND, "tokenizer", "made by worldsim.tokenizer.export, or by "
                            "`worldsim train tokenizer` under WORKDIR/model")
    try:
        cfg = TokenizerConfig.from_dict(meta["model"])
    except (TypeError, KeyError, ValueError, AttributeError) as e:
        raise ValueError(f"{directory / 'config.json'} does not match this version's TokenizerConfig ({e}); "
                         "re-export it") from None
    return restore_params(directory, abstract_model(lambda: Tokenizer(cfg, rngs=nnx.Rngs(0)),
                                                         f"Tokenizer {cfg.to_dict()}"), "tokenizer",
                          meta.get(CHECKSUMS))
