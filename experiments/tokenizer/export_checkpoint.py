"""Export a training checkpoint (model + optimizer) as a model-only tokenizer directory.

    python experiments/tokenizer/export_checkpoint.py --workdir runs/tokenizer_small --step 3000 --out worldsim/assets/tokenizer
"""

import argparse
import json

from flax import nnx

from worldsim.tokenizer import Tokenizer
from worldsim.tokenizer.load import export
from worldsim.train.checkpoint import Checkpointer
from worldsim.train.tokenizer import TokenizerTrainConfig, make_optimizer


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", required=True)
    p.add_argument("--step", type=int, default=None, help="default: the latest checkpoint")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    with open(f"{args.workdir}/train_config.json") as f:
        cfg = TokenizerTrainConfig.from_dict(json.load(f))
    model = Tokenizer(cfg.model, rngs=nnx.Rngs(0))
    opt = make_optimizer(cfg, model)
    ckpt = Checkpointer(f"{args.workdir}/checkpoints")
    step = args.step or ckpt.latest_step()
    ckpt.restore(step, {"model": model, "opt": opt})
    export(model, args.out, {"train": cfg.to_dict(), "steps": step})
    print(f"exported step {step} to {args.out}")


if __name__ == "__main__":
    main()
