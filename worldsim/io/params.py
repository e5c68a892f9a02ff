"""Model-only exports shared by every component: orbax params plus a config.json that says what they are."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp
from flax import nnx


def export_params(model, directory: str | Path, kind: str, extra: dict | None = None) -> Path:
    """Write `directory/params` (orbax) and `directory/config.json` ({kind, model config, **extra}); overwrites."""
    directory = Path(directory).absolute()
    directory.mkdir(parents=True, exist_ok=True)
    params = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    if jax.process_count() > 1:  # orbax refuses one process's device arrays in a multi-process run; numpy it takes
        params = jax.tree.map(np.asarray, params)
    with ocp.StandardCheckpointer(**_this_process_only()) as ckpt:
        ckpt.save(directory / "params", params, force=True)
    marker = directory / "params" / "commit_success.txt"
    if marker.exists():  # orbax writes the absolute save path here; a shipped export must not carry a machine path
        marker.write_text("Checkpoint commit was successful\n")
    meta = {"kind": kind, "model": model.config.to_dict(), **(extra or {})}
    (directory / "config.json").write_text(json.dumps(meta, indent=2))
    return directory


def _this_process_only() -> dict:
    """Checkpointer options for a model-only export or load that one process does alone (in a multi-process run
    the export is written by process 0 only, from a whole copy): orbax must not wait for the other processes."""
    if jax.process_count() == 1:
        return {}
    me = jax.process_index()
    return {"multiprocessing_options": ocp.options.MultiprocessingOptions(primary_host=me, active_processes={me})}


def restore_params(directory: str | Path, abstract_model, what: str, skip: tuple[str, ...] = ()):
    """Restore `directory/params` into `abstract_model` (from nnx.eval_shape) and return a concrete model.

    Restoring into the abstract model skips seconds of compiling random initialisers for weights about to be
    overwritten. Parameter names and shapes are compared first, so a mismatch names the offending parameter.
    skip: top-level parameter names that exports of an earlier version may carry and this one has removed (for
    the dynamics: the object anchor's motion head); they are read and dropped.
    """
    graphdef, state, rest = nnx.split(abstract_model, nnx.Param, ...)
    # An explicit sharding on this process's first device: a checkpoint written on one kind of device (the shipped
    # ones were written on CPU) then restores on any other (GPU), instead of orbax refusing the saved topology.
    device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    target = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=device),
                          nnx.to_pure_dict(state))
    path = Path(directory).absolute() / "params"
    with ocp.StandardCheckpointer(**_this_process_only()) as ckpt:
        saved = ckpt.metadata(path).item_metadata
        dropped = [k for k in skip if k in saved and k not in target]
        problem = _mismatch(_shapes({k: v for k, v in saved.items() if k not in dropped}), _shapes(target))
        if problem:
            raise ValueError(f"{directory} was saved with a different {what} config: {problem}")
        # the dropped parameters are restored too (orbax restores whole trees), then let go
        full = {**target, **{k: jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device),
                                              dict(saved[k])) for k in dropped}}
        try:
            params = ckpt.restore(path, full)
        except (ValueError, KeyError) as e:
            raise ValueError(f"{directory} was saved with a different {what} config: {e}") from e
    params = {k: v for k, v in params.items() if k not in dropped}
    if jax.tree.leaves(rest):
        raise ValueError(f"the {what} holds state besides parameters: export/load must learn to save it")
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


def flatten_tree(tree: dict) -> dict:
    """Nested params dict -> {"a/b/0": leaf}: with numpy leaves, a portable snapshot format (np.savez), no orbax in
    between."""
    out = {}
    for k, v in tree.items():
        out.update({f"{k}/{kk}": vv for kk, vv in flatten_tree(v).items()} if isinstance(v, dict) else {str(k): v})
    return out


def nest_tree(flat: dict) -> dict:
    """flatten_tree's inverse: {"a/b/0": x} -> {"a": {"b": {0: x}}} (integer keys for list indices, as nnx pure
    dicts have them)."""
    import jax.numpy as jnp

    tree: dict = {}
    for name, value in flat.items():
        node = tree
        *parents, leaf = [int(k) if k.isdigit() else k for k in name.split("/")]
        for k in parents:
            node = node.setdefault(k, {})
        node[leaf] = jnp.asarray(value)
    return tree

