"""Checkpoints: orbax CheckpointManager holding {model, opt, step} pure dicts plus config.json beside them.

A checkpoint directory is self-describing: `config.json` says which model it holds, so it loads without any
training code (see `load_model_state`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp
from flax import nnx


def _str_keys(tree):
    """orbax wants string keys; nnx optimizer state has int keys (0, 1, ... for chained transforms)."""
    if isinstance(tree, dict):
        return {str(k): _str_keys(v) for k, v in tree.items()}
    return tree


def _orig_keys(like, tree):
    if isinstance(like, dict):
        return {k: _orig_keys(v, tree[str(k)]) for k, v in like.items()}
    return tree


class Checkpointer:
    """Save / restore nnx objects by step under `directory` (keeps the newest `max_to_keep`)."""

    def __init__(self, directory: str | Path, max_to_keep: int = 2):
        self.directory = Path(directory).absolute()
        self.directory.mkdir(parents=True, exist_ok=True)
        options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, enable_async_checkpointing=False, create=True)
        self._mgr = ocp.CheckpointManager(self.directory, options=options)

    def latest_step(self) -> int | None:
        return self._mgr.latest_step()

    def save(self, step: int, objects: dict[str, Any], config: dict) -> None:
        state = {name: _str_keys(nnx.to_pure_dict(nnx.state(obj))) for name, obj in objects.items()}
        self._mgr.save(
            step,
            args=ocp.args.Composite(state=ocp.args.StandardSave(state), config=ocp.args.JsonSave(config)),
        )
        self._mgr.wait_until_finished()
        if jax.process_index() == 0:  # every process writes its shards (above); one writes the shared config
            (self.directory / "config.json").write_text(json.dumps(config, indent=2))

    def restore(self, step: int, objects: dict[str, Any]) -> dict:
        """Load step `step` into the given nnx objects in place; returns the saved config."""
        pure = {name: nnx.to_pure_dict(nnx.state(obj)) for name, obj in objects.items()}
        target = jax.tree.map(ocp.utils.to_shape_dtype_struct, _str_keys(pure))
        out = self._mgr.restore(
            step, args=ocp.args.Composite(state=ocp.args.StandardRestore(target), config=ocp.args.JsonRestore())
        )
        for name, obj in objects.items():
            state = nnx.state(obj)
            nnx.replace_by_pure_dict(state, _orig_keys(pure[name], out.state[name]))
            nnx.update(obj, state)
        return dict(out.config)

    def close(self):
        self._mgr.close()


def read_config(directory: str | Path) -> dict:
    path = Path(directory) / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: is {directory} a worldsim checkpoint directory?")
    return json.loads(path.read_text())
