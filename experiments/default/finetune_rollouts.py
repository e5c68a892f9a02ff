"""Fine-tune the shipped dynamics trunk on the 2 CPU cores with one recipe change at a time (the Rollouts issue's
ablation, experiments/default/results.md). Same trainer as `worldsim train dynamics` (worldsim.train.dynamics.train);
this file only holds the settings. The layout prior is left out: it draws only text-only first frames, and the
ablation gives 3 frames.

    # round 1, from the shipped weights (the two runs shared the 2 cores: 26 and 34 min)
    python experiments/default/finetune_rollouts.py --variant control --workdir runs/ft_control --steps 1200
    python experiments/default/finetune_rollouts.py --variant self2 --workdir runs/ft_self2 --steps 1200
    # later, the same way (these two shared the cores: 33 min each)
    python experiments/default/finetune_rollouts.py --variant self1 --workdir runs/ft_self1 --steps 1200
    python experiments/default/finetune_rollouts.py --variant noise --workdir runs/ft_noise --steps 1200
    # session 12, alone on the cores
    python experiments/default/finetune_rollouts.py --variant delta --workdir runs/ft_delta --steps 1200
    # round 2, each from its round-1 weights, push with idle stretches
    W=bouncing_balls,gravity,push+idle,bouncing_balls+occluder
    python experiments/default/finetune_rollouts.py --variant control --init runs/ft_control/model --worlds $W \
        --workdir runs/ft_control_b --steps 1200
    python experiments/default/finetune_rollouts.py --variant self2 --init runs/ft_self2/model --worlds $W \
        --workdir runs/ft_self2_b --steps 1200
    # then, per model: python experiments/default/diagnose.py --model runs/NAME/model --rollouts-only --rest ...

Variants (batch 8, lr 2e-4 after 50 warmup steps, cosine to 2%; clips of 16 frames; context noise 0.1 as in the
shipped run): control = more of the same training; self1 / self2 = + self-rollouts (worldsim.train.self_rollout),
1 or 2 passes of 4-step samples at temperature 0.5, on half of the clips; noise = the context noise drawn per frame
and told to the model through a (zero-initialised) noise-level embedding, diffusion-forcing style; delta = each
input frame also carries its change from the frame before (DynamicsConfig.frame_delta, zero-initialised).
"""

from __future__ import annotations

import argparse

from worldsim.dynamics.load import read_meta
from worldsim.dynamics.config import DynamicsConfig
from worldsim.train.dynamics import DynamicsTrainConfig, train

VARIANTS = {
    "control": {},
    "self1": {"self_rollout": 1},
    "self2": {"self_rollout": 2},
    "self4": {"self_rollout": 4},
    "noise": {"frame_noise": True},  # per-frame context noise, told to the model (and the model's embedding of it)
    "delta": {},  # the model's input also carries each frame's change from the one before (frame_delta)
}
MODEL_CHANGES = {"noise": {"noise_embed": True}, "delta": {"frame_delta": True}}


WORLDS = ("bouncing_balls", "gravity", "push", "bouncing_balls+occluder")


def config(variant: str, steps: int, clips_per_world: int, batch: int, init: str = "default",
           worlds: tuple[str, ...] = WORLDS) -> DynamicsTrainConfig:
    shipped = DynamicsConfig.from_dict(read_meta("default")["model"])
    # the trunk, flow head and state head as shipped; no layout prior (not trained here)
    model = shipped.replace(layout_dim=0, **MODEL_CHANGES.get(variant, {}))
    return DynamicsTrainConfig(
        model=model, init=init, worlds=worlds, clips_per_world=clips_per_world, clip_frames=16, batch_size=batch,
        steps=steps, lr=2e-4, warmup=50, context_noise=0.1, val_clips=16, val_every=200, sample_every=0,
        save_every=100, log_every=25, **VARIANTS[variant])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variant", choices=sorted(VARIANTS), required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--steps", type=int, default=1200)
    p.add_argument("--clips-per-world", type=int, default=750)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--init", default="default", help="the export to start from (default: the shipped model)")
    p.add_argument("--worlds", default=",".join(WORLDS), help="world entries ('push+idle': half the pushes idle)")
    args = p.parse_args()
    train(config(args.variant, args.steps, args.clips_per_world, args.batch, args.init,
                 tuple(args.worlds.split(","))), args.workdir)


if __name__ == "__main__":
    main()
