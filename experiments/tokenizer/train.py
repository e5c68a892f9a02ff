"""Train the default tokenizer (TokenizerTrainConfig.small) on 2 CPU cores; resumes if interrupted.

    python experiments/tokenizer/train.py --workdir runs/tokenizer_small [--steps N]
(equivalently: worldsim train tokenizer --preset small --workdir runs/tokenizer_small)
"""

import argparse

from worldsim.train.tokenizer import TokenizerTrainConfig, train


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", default="runs/tokenizer_small")
    p.add_argument("--steps", type=int, default=None, help="override the preset's step count")
    args = p.parse_args()
    cfg = TokenizerTrainConfig.small()
    if args.steps:
        cfg = type(cfg)(**{**cfg.__dict__, "steps": args.steps})
    train(cfg, args.workdir)


if __name__ == "__main__":
    main()
