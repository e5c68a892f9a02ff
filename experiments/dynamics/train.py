"""Train the default dynamics model (DynamicsTrainConfig.small) over a trained tokenizer on 2 CPU cores; resumes
if interrupted. Clips are encoded once and cached under WORKDIR/latents.

    python experiments/dynamics/train.py --tokenizer runs/tokenizer_small/model --workdir runs/dynamics_small
equivalently:
    worldsim train dynamics --preset small --tokenizer runs/tokenizer_small/model --workdir runs/dynamics_small
"""

import argparse

from worldsim.train.dynamics import DynamicsTrainConfig, fit_to_tokenizer, train


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", default="runs/dynamics_small")
    p.add_argument("--tokenizer", default="runs/tokenizer_small/model", help="exported tokenizer, or 'default'")
    p.add_argument("--steps", type=int, default=None, help="override the preset's step count")
    args = p.parse_args()
    cfg = DynamicsTrainConfig.small().replace(tokenizer=args.tokenizer)
    if args.steps:
        cfg = cfg.replace(steps=args.steps)
    train(fit_to_tokenizer(cfg), args.workdir)


if __name__ == "__main__":
    main()
