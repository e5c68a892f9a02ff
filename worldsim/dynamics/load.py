"""Model-only dynamics checkpoints: export (orbax params + config.json) and load, without training code."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import orbax.checkpoint as ocp
from flax import nnx

from worldsim.dynamics.config import DynamicsConfig
from worldsim.dynamics.model import DynamicsModel
from worldsim.io.params import export_params

KIND = "worldsim.dynamics"
DEFAULT = Path(__file__).resolve().parent.parent / "assets" / "dynamics"  # shipped weights (package data)


def export(model: DynamicsModel, directory: str | Path, extra: dict | None = None) -> Path:
    """Write `directory/params` (orbax) and `directory/config.json`; overwrites an earlier export."""
    return export_params(model, directory, KIND, extra)


def read_meta(directory: str | Path = "default") -> dict:
    """config.json of an export (kind, model config, and what the trainer recorded), checked to be dynamics."""
    directory = DEFAULT if str(directory) == "default" else Path(directory)
    cfg_path = directory / "config.json"
    if not cfg_path.exists():
        raise FileNotFoundError(
            f"no dynamics model at {directory}: expected {cfg_path} (made by worldsim.dynamics.load.export, "
            "or by `worldsim train dynamics` under WORKDIR/model)"
        )
    meta = json.loads(cfg_path.read_text())
    if meta.get("kind") != KIND:
        raise ValueError(f"{directory} holds a {meta.get('kind', 'unknown')!r} checkpoint, not a dynamics model")
    return meta


def load(directory: str | Path = "default") -> DynamicsModel:
    """A DynamicsModel from an `export` directory, or "default" for the shipped one."""
    meta = read_meta(directory)
    directory = DEFAULT if str(directory) == "default" else Path(directory)
    try:
        cfg = DynamicsConfig.from_dict(meta["model"])
    except (TypeError, KeyError) as e:
        raise ValueError(f"{directory}/config.json does not match this version's DynamicsConfig ({e}); re-export it") \
            from e
    # Restore into the abstract model and merge: no eager initialisation (seconds of compiling random
    # initialisers) for weights that are about to be overwritten.
    graphdef, state, rest = nnx.split(nnx.eval_shape(lambda: DynamicsModel(cfg, rngs=nnx.Rngs(0))), nnx.Param, ...)
    target = jax.tree.map(ocp.utils.to_shape_dtype_struct, nnx.to_pure_dict(state))
    with ocp.StandardCheckpointer() as ckpt:
        path = directory.absolute() / "params"
        # Compare names and shapes first: a clear message, and no half-started restore left behind.
        problem = _mismatch(_shapes(ckpt.metadata(path).item_metadata), _shapes(target))
        if problem:
            raise ValueError(f"{directory} was saved with a different dynamics config: {problem}")
        try:
            params = ckpt.restore(path, target)
        except (ValueError, KeyError) as e:
            raise ValueError(f"{directory} was saved with a different dynamics config: {e}") from e
    if jax.tree.leaves(rest):
        raise ValueError("DynamicsModel holds state besides parameters: export/load must learn to save it")
    nnx.replace_by_pure_dict(state, params)
    return nnx.merge(graphdef, state, rest)


def _shapes(tree) -> dict[str, tuple]:
    """{'blocks/0/mlp/fc1/bias': shape} for every array in a params tree (or its checkpoint metadata)."""
    def name(path):
        return "/".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path)

    return {name(p): tuple(leaf.shape) for p, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}


def _mismatch(saved: dict, wanted: dict) -> str:
    missing, extra = sorted(wanted.keys() - saved.keys()), sorted(saved.keys() - wanted.keys())
    wrong = [f"{k} is {saved[k]} in the checkpoint but {wanted[k]} for its config.json"
             for k in sorted(wanted.keys() & saved.keys()) if saved[k] != wanted[k]]
    parts = wrong[:3] + ([f"missing {', '.join(missing[:3])}"] if missing else [])
    parts += [f"unexpected {', '.join(extra[:3])}"] if extra else []
    return "; ".join(parts)
