"""Fine-tuning: start a model from an exported one's weights wherever the names and shapes match."""

from __future__ import annotations

from flax import nnx

from worldsim.io.params import flatten_tree, nest_tree


def copy_matching(model, source) -> tuple[int, list[str]]:
    """Copy every parameter of `source` whose path and shape `model` shares into `model` (in place).
    Returns (how many were copied, the model's parameter paths left at their initial values)."""
    mine = flatten_tree(nnx.to_pure_dict(nnx.state(model, nnx.Param)))
    theirs = flatten_tree(nnx.to_pure_dict(nnx.state(source, nnx.Param)))
    take = {k: theirs[k] for k, v in mine.items() if k in theirs and theirs[k].shape == v.shape}
    state = nnx.state(model, nnx.Param)
    nnx.replace_by_pure_dict(state, nest_tree({**mine, **take}))
    nnx.update(model, state)
    return len(take), sorted(set(mine) - set(take))


def warm_start(model, export_dir: str) -> tuple[int, list[str]]:
    """copy_matching from the dynamics export at export_dir ("default" = the shipped model)."""
    from worldsim.dynamics.load import load

    return copy_matching(model, load(export_dir))
