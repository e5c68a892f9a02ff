"""Model-only dynamics checkpoints: export (orbax params + config.json) and load, without training code."""

from __future__ import annotations

from pathlib import Path

from flax import nnx

from worldsim.dynamics.config import DynamicsConfig
from worldsim.dynamics.model import DynamicsModel
from worldsim.io.params import CHECKSUMS, abstract_model, export_params, read_export_meta, restore_params

KIND = "worldsim.dynamics"
DEFAULT = Path(__file__).resolve().parent.parent / "assets" / "dynamics"  # shipped weights (package data)
# Parameters that exports of earlier versions may carry and load skips: the object anchor's motion head (removed in
# issue #20; DynamicsConfig.from_dict drops its settings).
REMOVED = ("motion_head",)
# config.json key: how many clips with ground-truth state the state head trained on (worldsim.train.dynamics
# records it). 0 = none: the head's outputs are untrained noise, so load drops it. No key (earlier exports, the
# shipped one): trusted.
STATE_LABELS = "state_labels"
UNTRAINED_STATE_HEAD = ("this model's state head was never trained on labelled clips: train with worlds, or use a "
                        "task without a readout")


def state_head_trained(meta: dict) -> bool:
    """False only where the export records that no labelled clip reached its state head."""
    return meta.get(STATE_LABELS) != 0


def export(model: DynamicsModel, directory: str | Path, extra: dict | None = None) -> Path:
    """Write `directory/params` (orbax) and `directory/config.json`; overwrites an earlier export."""
    return export_params(model, directory, KIND, extra)


def read_meta(directory: str | Path = "default") -> dict:
    """config.json of an export (kind, model config, and what the trainer recorded), checked to be dynamics."""
    directory = DEFAULT if str(directory) == "default" else Path(directory)
    return read_export_meta(directory, KIND, "dynamics model", "made by worldsim.dynamics.load.export, or by "
                            "`worldsim train dynamics` under WORKDIR/model")


def load(directory: str | Path = "default") -> DynamicsModel:
    """A DynamicsModel from an `export` directory, or "default" for the shipped one. A state head that never saw a
    labelled clip (state_head_trained) is left out: it would answer with noise (presence ~0.85 for every colour)."""
    meta = read_meta(directory)
    directory = DEFAULT if str(directory) == "default" else Path(directory)
    try:
        cfg = DynamicsConfig.from_dict(meta["model"])
    except (TypeError, KeyError, ValueError, AttributeError) as e:
        raise ValueError(f"{directory}/config.json does not match this version's DynamicsConfig ({e}); re-export it") \
            from None
    skip = REMOVED
    if cfg.state_head and not state_head_trained(meta):
        cfg, skip = cfg.replace(state_head=False), REMOVED + ("state_head",)
    return restore_params(directory, abstract_model(lambda: DynamicsModel(cfg, rngs=nnx.Rngs(0)),
                                                         f"DynamicsModel {cfg.to_dict()}"), "dynamics",
                          meta.get(CHECKSUMS), skip=skip)

