"""Turn a snapshot of experiments/default/train.py (ema.npz or raw.npz + run.json) into a dynamics export that
worldsim.dynamics.load reads, by default the shipped one in worldsim/assets/dynamics.

    python experiments/default/pack.py RUN_DIR [--weights ema|raw] [--dest worldsim/assets/dynamics]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from flax import nnx

from worldsim.data.latents import tokenizer_fingerprint
from worldsim.dynamics import DynamicsConfig, DynamicsModel
from worldsim.dynamics.load import DEFAULT, export
from worldsim.io.params import flatten_tree, nest_tree
from worldsim.tokenizer.load import load as load_tokenizer


def model_from_snapshot(run_dir: str | Path, weights: str = "ema") -> tuple[DynamicsModel, dict]:
    run_dir = Path(run_dir)
    run = json.loads((run_dir / "run.json").read_text())
    cfg = DynamicsConfig.from_dict(run["train"]["model"])
    model = nnx.eval_shape(lambda: DynamicsModel(cfg, rngs=nnx.Rngs(0)))
    graphdef, state, rest = nnx.split(model, nnx.Param, ...)
    with np.load(run_dir / f"{weights}.npz") as f:
        saved = nest_tree({k: f[k] for k in f.files})
    want = {k: v.shape for k, v in flatten_tree(nnx.to_pure_dict(state)).items()}
    got = {k: v.shape for k, v in flatten_tree(saved).items()}
    if want != got:
        diff = sorted(set(want.items()) ^ set(got.items()))[:4]
        raise ValueError(f"{run_dir}/{weights}.npz does not match its run.json model config: {diff}")
    nnx.replace_by_pure_dict(state, saved)
    return nnx.merge(graphdef, state, rest), run


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir")
    p.add_argument("--weights", choices=("ema", "raw"), default="ema")
    p.add_argument("--dest", default=str(DEFAULT))
    p.add_argument("--temperature", type=float, default=0.5, help="recorded sampling default (measured best)")
    p.add_argument("--no-reproject", action="store_true", help="record reproject=False as the sampling default")
    p.add_argument("--first-temperature", type=float, default=1.0,
                   help="recorded temperature of first frames drawn from a prompt alone (measured best)")
    p.add_argument("--first-guidance", type=float, default=1.0,
                   help="recorded classifier-free guidance of those first frames (measured best; 1 = none)")
    p.add_argument("--prior", default=None, help="the snapshot folder this run continued from (--init), for the record")
    args = p.parse_args()
    model, run = model_from_snapshot(args.run_dir, args.weights)
    tok_name = run["train"]["tokenizer"]
    tok = load_tokenizer(tok_name)
    if tokenizer_fingerprint(tok) != run["tokenizer_fingerprint"]:
        raise ValueError(f"the tokenizer {tok_name!r} is not the one this run was trained over")
    if "history" in run:  # a fine-tune (finetune_text.py) carries the whole history, its own stage last
        history = run["history"]
    else:
        stages = [run]
        if args.prior:
            stages.insert(0, json.loads((Path(args.prior) / "run.json").read_text()))
        history = [{k: st[k] for k in ("steps", "seconds", "device")} | {
            "batch_size": st["train"]["batch_size"], "lr": st["train"]["lr"],
            "context_noise": st["train"]["context_noise"]} for st in stages]
    extra = {"sampling": {"temperature": args.temperature, "reproject": not args.no_reproject,
                          "first_temperature": args.first_temperature, "first_guidance": args.first_guidance},
             "train": run["train"], "steps": sum(st["steps"] for st in history), "history": history,
             "weights": args.weights, "seconds": run["seconds"],
             "device": run["device"], "tokenizer": {"path": tok_name, "fingerprint": run["tokenizer_fingerprint"],
                                                   "model": tok.config.to_dict()}}
    dest = export(model, args.dest, extra)
    print(f"wrote {dest} ({run['steps']} steps, {args.weights} weights)")


if __name__ == "__main__":
    main()
