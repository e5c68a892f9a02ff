"""Model-only exports shared by every component: orbax params plus a config.json that says what they are.

config.json records a sha256 per weight file (CHECKSUMS), checked before every restore: damaged, truncated, missing
or replaced files give one line naming the file, not a TensorStore traceback or silently wrong weights. Exports
written before the checksums load unchecked.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp
from flax import nnx

from worldsim.io import compile_cache
from worldsim.io.checksums import file_checksums, first_damaged

CHECKSUMS = "sha256"  # config.json key: {"params/<file>": sha256 hex} for every file of the orbax params


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
    # The checksums last: an `extra` copied from an older export's config.json must not carry its stale ones.
    meta = {"kind": kind, "model": model.config.to_dict(), **(extra or {}),
            CHECKSUMS: file_checksums(directory / "params", prefix="params/")}
    (directory / "config.json").write_text(json.dumps(meta, indent=2))
    return directory


def read_json_object(path: Path, fix: str) -> dict:
    """The JSON object in `path`; an unreadable, empty, non-JSON or non-object file is one ValueError line that
    names the file and `fix`."""
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        what = "empty" if not path.stat().st_size else f"not readable JSON: {e}"
        raise ValueError(f"{path} is damaged ({what}): {fix}") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path} is damaged (a JSON {type(meta).__name__}, not an object): {fix}")
    return meta


def read_export_meta(directory: Path, kind: str, noun: str, made_by: str) -> dict:
    """An export's config.json, checked to be there, readable and of `kind` (noun: 'tokenizer', ...)."""
    path = directory / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"no {noun} at {directory}: expected {path} ({made_by})")
    meta = read_json_object(path, f"re-export the {noun}, or copy its config.json back from the original export")
    if meta.get("kind") != kind:
        raise ValueError(f"{directory} holds a {meta.get('kind', 'unknown')!r} checkpoint, not a {noun}: pass a "
                         f"{noun} export ({made_by})")
    return meta


def _this_process_only() -> dict:
    """Checkpointer options for a model-only export or load that one process does alone (in a multi-process run
    the export is written by process 0 only, from a whole copy): orbax must not wait for the other processes."""
    if jax.process_count() == 1:
        return {}
    me = jax.process_index()
    return {"multiprocessing_options": ocp.options.MultiprocessingOptions(primary_host=me, active_processes={me})}


def abstract_model(build, cache_key: str | None = None):
    """nnx.eval_shape(build): the model's structure and parameter shapes, no weights computed.

    Faster than plain nnx.eval_shape: while it traces, flax checks every rng counter update's `.sharding`, which on
    a JAX tracer builds an error message by walking the whole trace so far (quadratic in the model's size: 1.2 of
    the 1.7 s the default model took to load). That message is never shown (flax reads the attribute with a
    default), so it is skipped here; a real tracing error still raises, with a shorter message.

    cache_key: what fixes the structure (class and config); with it, the structure is kept beside the compilation
    cache (worldsim.io.compile_cache.structure_cache), where the next process finds it in ~30 ms instead of
    tracing the constructor again (~0.7 s for the default dynamics).
    """
    return compile_cache.structure_cache(cache_key, lambda: _traced(build))


def _traced(build):
    with _no_tracer_origin_messages():
        return nnx.eval_shape(build)


@contextlib.contextmanager
def _no_tracer_origin_messages():
    try:
        from jax._src.interpreters import partial_eval as pe

        cls = pe.DynamicJaxprTracer
        original = cls.__dict__["_origin_msg"]
    except (ImportError, AttributeError, KeyError):  # another JAX version: no shortcut, same result
        yield
        return
    cls._origin_msg = lambda self: ""
    try:
        yield
    finally:
        cls._origin_msg = original


def restore_params(directory: str | Path, abstract_model, what: str, checksums: dict | None = None,
                   skip: tuple[str, ...] = ()):
    """Restore `directory/params` into `abstract_model` (from abstract_model(build)) and return a concrete model.

    checksums: config.json's CHECKSUMS entry, checked first (None: an export from before checksums, unchecked).

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
    _verify(Path(directory), checksums, what)
    with ocp.StandardCheckpointer(**_this_process_only()) as ckpt:
        try:
            saved = ckpt.metadata(path).item_metadata
        except Exception as e:  # noqa: BLE001 - orbax/TensorStore raise many kinds; any of them means unreadable
            raise ValueError(f"{path} is unreadable ({first_line(e)}): its files are damaged or incomplete; "
                             f"re-export the {what}") from None
        if not saved:  # orbax reads a missing _METADATA as an empty tree: not "a different config"
            raise ValueError(f"{path} holds no parameters (its _METADATA is missing or empty): its files are damaged "
                             f"or incomplete; re-export the {what}")
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
            raise ValueError(f"{directory} was saved with a different {what} config: {first_line(e)}") from None
        except Exception as e:  # noqa: BLE001 - e.g. a TensorStore error of 2,000 characters for a truncated file
            raise ValueError(f"{path} is unreadable ({first_line(e)}): its files are damaged or incomplete; "
                             f"re-export the {what}") from None
    params = {k: v for k, v in params.items() if k not in dropped}
    if jax.tree.leaves(rest):
        raise ValueError(f"the {what} holds state besides parameters: export/load must learn to save it")
    nnx.replace_by_pure_dict(state, params)
    return nnx.merge(graphdef, state, rest)


def _verify(directory: Path, checksums, what: str) -> None:
    if checksums is None:
        return
    if not (isinstance(checksums, dict) and all(isinstance(v, str) for v in checksums.values())):
        raise ValueError(f"{directory / 'config.json'}'s {CHECKSUMS!r} entry is damaged (not a {{file: sha256}} "
                         f"object): re-export the {what}, or copy its config.json back from the original export")
    problem = first_damaged(directory, checksums)
    if problem:
        raise ValueError(f"{directory}/{problem}: re-export the {what} or copy that file back from the original "
                         "export")


def first_line(e: Exception, limit: int = 200) -> str:
    """An exception as one short line (TensorStore's messages run to thousands of characters over many lines)."""
    text = str(e).strip().split(" See full TensorStore details")[0]  # the rest is a repr of the whole spec
    text = f"{type(e).__name__}: {text.splitlines()[0] if text else ''}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


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

