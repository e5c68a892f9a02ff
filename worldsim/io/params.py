"""Model-only exports shared by every component: orbax params plus a config.json that says what they are."""

from __future__ import annotations

import json
from pathlib import Path

import orbax.checkpoint as ocp
from flax import nnx


def export_params(model, directory: str | Path, kind: str, extra: dict | None = None) -> Path:
    """Write `directory/params` (orbax) and `directory/config.json` ({kind, model config, **extra}); overwrites."""
    directory = Path(directory).absolute()
    directory.mkdir(parents=True, exist_ok=True)
    params = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    with ocp.StandardCheckpointer() as ckpt:
        ckpt.save(directory / "params", params, force=True)
    marker = directory / "params" / "commit_success.txt"
    if marker.exists():  # orbax writes the absolute save path here; a shipped export must not carry a machine path
        marker.write_text("Checkpoint commit was successful\n")
    meta = {"kind": kind, "model": model.config.to_dict(), **(extra or {})}
    (directory / "config.json").write_text(json.dumps(meta, indent=2))
    return directory
