"""A short pilot of dynamics training on the shipped tokenizer: does the loss move, and does validation beat the
latent copy-last baseline? Not the default model (see train.py for that).

    python experiments/dynamics/pilot.py --workdir runs/dynamics_pilot
"""

import argparse

from worldsim.train.dynamics import DynamicsTrainConfig, fit_to_tokenizer, train


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", default="runs/dynamics_pilot")
    p.add_argument("--steps", type=int, default=600)
    args = p.parse_args()
    cfg = DynamicsTrainConfig.small().replace(
        tokenizer="default", clips_per_world=150, batch_size=8, steps=args.steps, warmup=100, lr=1e-3,
        val_every=150, sample_every=args.steps, save_every=150,
    )
    train(fit_to_tokenizer(cfg), args.workdir)


if __name__ == "__main__":
    main()
