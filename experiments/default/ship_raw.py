"""Pack a fine-tuned trunk (an export of `worldsim train dynamics` / finetune_rollouts.py) as the shipped default,
sampled raw: its trunk, flow head, state head and first-frame prior, plus the layout prior of another export (it
draws only text-only first frames, and the fine-tunes leave it out), with the flow head's default Euler steps set.

    python experiments/default/ship_raw.py --trunk runs/ft_delta/model --layout-from default --flow-steps 2

Writes worldsim/assets/dynamics (or --dest); its config.json records where each part came from.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from flax import nnx

from worldsim.dynamics import DynamicsConfig, DynamicsModel
from worldsim.dynamics.load import DEFAULT, export, load, read_meta
from worldsim.io.params import flatten_tree, nest_tree

LAYOUT_FIELDS = ("layout_dim", "layout_heads", "layout_text_layers", "layout_render_dim", "layout_render_layers")


def combine(trunk_dir: str, layout_dir: str, flow_steps: int) -> tuple[DynamicsModel, dict, dict]:
    """-> (the combined model, the trunk's config.json, the layout source's config.json)."""
    trunk_meta, layout_meta = read_meta(trunk_dir), read_meta(layout_dir)
    layout_cfg = DynamicsConfig.from_dict(layout_meta["model"])
    cfg = DynamicsConfig.from_dict(trunk_meta["model"]).replace(
        flow_steps=flow_steps, **{k: getattr(layout_cfg, k) for k in LAYOUT_FIELDS})
    model = DynamicsModel(cfg, rngs=nnx.Rngs(0))
    mine = flatten_tree(nnx.to_pure_dict(nnx.state(model, nnx.Param)))
    trunk = flatten_tree(nnx.to_pure_dict(nnx.state(load(trunk_dir), nnx.Param)))
    layout = flatten_tree(nnx.to_pure_dict(nnx.state(load(layout_dir), nnx.Param)))
    take = {}
    for path, value in mine.items():
        src = layout if path.split("/")[0] == "layout" else trunk
        if path not in src or src[path].shape != value.shape:
            raise ValueError(f"parameter {path} {value.shape} is not in its source export with that shape")
        take[path] = src[path]
    state = nnx.state(model, nnx.Param)
    nnx.replace_by_pure_dict(state, nest_tree(take))
    nnx.update(model, state)
    return model, trunk_meta, layout_meta


def fine_tunes(export_dir: str) -> list[dict]:
    """The chain of fine-tunes that made an export, oldest first, back to the shipped model it started from."""
    chain, seen = [], set()
    while str(export_dir) != "default" and export_dir not in seen:
        seen.add(export_dir)
        train = read_meta(export_dir).get("train") or {}
        chain.insert(0, {"export": str(export_dir), "init": train.get("init"), "steps": train.get("steps"),
                         "batch_size": train.get("batch_size"), "lr": train.get("lr"), "worlds": train.get("worlds"),
                         "device": "cpu (2 cores)"})
        export_dir = train.get("init") or "default"
    return chain


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trunk", required=True, help="export holding the trunk, flow head, state head and prior")
    p.add_argument("--layout-from", default="default", help="export holding the layout prior (default: shipped)")
    p.add_argument("--flow-steps", type=int, default=2, help="the flow head's default Euler steps per frame")
    p.add_argument("--temperature", type=float, default=0.5, help="recorded sampling temperature of next frames")
    p.add_argument("--dest", default=str(DEFAULT))
    args = p.parse_args()
    model, trunk_meta, layout_meta = combine(args.trunk, args.layout_from, args.flow_steps)
    first = layout_meta.get("sampling", {}).get("first_temperature", 1.0)
    history = list(layout_meta.get("history", [])) + fine_tunes(args.trunk)
    extra = {"sampling": {"temperature": args.temperature, "reproject": True, "first_temperature": first},
             "train": trunk_meta.get("train"), "history": history,
             "parts": {"trunk": str(args.trunk), "layout": str(args.layout_from), "flow_steps": args.flow_steps},
             "layout": layout_meta.get("layout"), "tokenizer": layout_meta.get("tokenizer")}
    dest = export(model, args.dest, json.loads(json.dumps(extra)))
    print(f"wrote {dest}: trunk from {args.trunk}, layout prior from {args.layout_from}, {args.flow_steps} flow steps")


if __name__ == "__main__":
    main()
