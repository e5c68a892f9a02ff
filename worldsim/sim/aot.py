"""Repeat starts without re-tracing: the simulator's jitted functions, exported once (jax.export) and kept on disk.

A fresh process pays, before its first frame, for tracing and lowering `init` and `step` (about 1.2 s each for the
default model on 2 CPU cores) even when JAX's persistent cache holds the compiled code. `call` does that once per
signature: it exports the function (jax.export: the lowered StableHLO, serialized), keeps it beside the compilation
cache (worldsim.io.compile_cache), and a later process deserializes it (milliseconds) and compiles it from the
persistent cache. The exported program is the same computation; tests/test_sim_aot.py pins equal outputs.

The signature covers everything the traced program depends on: the function, its static arguments, every input's
tree structure, shape and dtype, and worldsim's source and the library versions (compile_cache.source_hash).
Off when the compilation cache is off, or with WORLDSIM_AOT=0; any failure (an old or damaged entry, a JAX that cannot serialize some part)
falls back to the plain jitted call.
"""

from __future__ import annotations

import hashlib
import os
import re
import weakref
from collections.abc import Callable
from pathlib import Path

import jax

from worldsim.io import compile_cache

_MEMO: dict[str, tuple] = {}  # signature -> (exported program, output tree, output key impls), this process
# (name, statics, id(model), the other arguments' structure and shapes) -> a jitted runner, or None for the plain
# call: after the first call, a step costs a dict lookup beside what the plain jitted call costs
_FAST: dict[tuple, Callable | None] = {}
_WATCHED: set[int] = set()  # ids of the models whose _FAST entries go when the model does
_ADDRESS = re.compile(r" at 0x[0-9a-f]+")  # function reprs in tree structures: the same function in every process


def _folder() -> Path | None:
    if os.environ.get("WORLDSIM_AOT", "").strip().lower() in compile_cache.OFF:  # WORLDSIM_AOT=0: plain jit only
        return None
    root = compile_cache.structure_folder()
    return None if root is None else root.parent / "worldsim-aot"


def _is_key(x) -> bool:
    return jax.dtypes.issubdtype(getattr(x, "dtype", None), jax.dtypes.prng_key)


def _signature(name: str, statics: tuple, leaves: list, tree) -> str:
    avals = [(tuple(x.shape), str(x.dtype), str(jax.random.key_impl(x)) if _is_key(x) else "") for x in leaves]
    text = f"{name}|{statics!r}|{_ADDRESS.sub('', str(tree))}|{avals}|{compile_cache.source_hash()}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def call(name: str, fn: Callable, model, args: tuple, statics: tuple):
    """fn(model, *args, *statics) through an exported program kept on disk; the plain call when that is not
    possible. fn: a jax.jit-ed function whose trailing arguments are static (hashable Python values); args: pytrees
    of arrays."""
    folder = _folder()
    if folder is None or any(callable(s) for s in statics):  # a user callable (terminal_fn): no stable name
        return fn(model, *args, *statics)
    leaves, tree = jax.tree.flatten(args)
    if not all(hasattr(x, "shape") and hasattr(x, "dtype") for x in leaves) or any(
            isinstance(x, jax.core.Tracer) for x in leaves):  # inside the caller's jit / vmap: theirs to trace
        return fn(model, *args, *statics)
    fast = (name, statics, id(model), tree, tuple((x.shape, x.dtype) for x in leaves))
    if fast not in _FAST:
        _FAST[fast] = _runner(folder, name, fn, model, args, statics)
        if id(model) not in _WATCHED:  # a later model could reuse this id: forget the runners with the model
            _WATCHED.add(id(model))
            weakref.finalize(model, _forget, id(model))
    runner = _FAST[fast]
    return fn(model, *args, *statics) if runner is None else runner(model, *args)


def _forget(model_id: int) -> None:
    _WATCHED.discard(model_id)
    for k in [k for k in _FAST if k[2] == model_id]:
        del _FAST[k]


def _runner(folder: Path, name: str, fn, model, args, statics):
    """A jitted function of (model, *args) that runs the exported program (None: export it cannot)."""
    leaves, tree = jax.tree.flatten((model, *args))
    sig = _signature(name, statics, leaves, tree)
    entry = _MEMO.get(sig)
    if entry is None:
        entry = _load(folder / f"{sig}.bin") or _export(folder / f"{sig}.bin", fn, leaves, tree, statics)
        if entry is None:
            return None
        _MEMO[sig] = entry
    exported, out_tree, out_keys = entry

    def run(model, *args):
        flat = [jax.random.key_data(x) if _is_key(x) else x for x in jax.tree.leaves((model, *args))]
        out = exported.call(*flat)
        return jax.tree.unflatten(out_tree, [_rewrap(x, impl) for x, impl in zip(out, out_keys)])

    return jax.jit(run)


def _flat_fn(fn, tree, statics, key_impls, out: dict):
    """The function of flat arrays that is exported: PRNG keys travel as their raw data (jax.export takes them in
    no other form across processes). Tracing it records the output's tree and key impls in `out`."""
    def flat(*xs):
        leaves = [jax.random.wrap_key_data(x, impl=impl) if impl else x for x, impl in zip(xs, key_impls)]
        ys, out["tree"] = jax.tree.flatten(fn(*jax.tree.unflatten(tree, leaves), *statics))
        out["keys"] = [str(jax.random.key_impl(y)) if _is_key(y) else None for y in ys]
        return [jax.random.key_data(y) if _is_key(y) else y for y in ys]

    return flat


def _export(path: Path, fn, leaves, tree, statics):
    key_impls = [str(jax.random.key_impl(x)) if _is_key(x) else None for x in leaves]
    flat_avals = [jax.ShapeDtypeStruct(jax.random.key_data(x).shape, jax.random.key_data(x).dtype) if _is_key(x)
                  else jax.ShapeDtypeStruct(x.shape, x.dtype) for x in leaves]
    out: dict = {}
    try:
        exported = jax.export.export(jax.jit(_flat_fn(fn, tree, statics, key_impls, out)))(*flat_avals)
        blob = bytes(exported.serialize())
    except Exception:  # noqa: BLE001 - something this JAX cannot export or serialize: the plain call serves
        return None
    compile_cache.write_entry(path, {"exported": blob, "out_tree": out["tree"], "out_keys": out["keys"]})
    return exported, out["tree"], out["keys"]


def _load(path: Path):
    saved = compile_cache.read_entry(path)
    try:
        return jax.export.deserialize(bytearray(saved["exported"])), saved["out_tree"], saved["out_keys"]
    except Exception:  # noqa: BLE001 - missing, damaged, or from another version: export again
        return None


def _rewrap(x, impl):
    return jax.random.wrap_key_data(x, impl=impl) if impl else x
