"""Planning in the real push world with the learned simulator: CEM model-predictive control that plans on the
simulator's physics readout (no frames decoded), beside the same planner on the true physics (upper baseline)
and a random policy (lower baseline). Every policy meets the same starts and goals; results go to a JSON file.

    python experiments/planning/run.py --model default --episodes 20 --out experiments/planning/results.json

Cost: the learned planner simulates candidates x horizon x iterations steps per real step (512 with the defaults);
with the small model that took ~3 s per real step on 2 busy CPU cores, so the default run takes up to ~40 minutes
(less when goals are reached early). The true-physics planner and the random policy take seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import worldsim as ws
from worldsim import agents

POLICIES = ("random", "cem_true", "cem_learned")


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="default", help="'default' (shipped) or a model directory for ws.load")
    p.add_argument("--episodes", type=int, default=20, help="trials per policy (the same for every policy)")
    p.add_argument("--out", default="experiments/planning/results.json", help="results JSON path")
    p.add_argument("--seed", type=int, default=0, help="seed of the trials' starts and goals")
    p.add_argument("--policies", default=",".join(POLICIES), help=f"comma-separated subset of {POLICIES}")
    p.add_argument("--max-steps", type=int, default=40, help="steps allowed to reach the goal")
    p.add_argument("--radius", type=float, default=0.1, help="success distance to the goal, world units")
    p.add_argument("--context", type=int, default=3, help="real frames each learned simulation starts from")
    p.add_argument("--horizon", type=int, default=8, help="CEM planned steps")
    p.add_argument("--candidates", type=int, default=32, help="CEM action sequences per iteration")
    p.add_argument("--elites", type=int, default=6, help="CEM elites per refit")
    p.add_argument("--iterations", type=int, default=2, help="CEM refits per step")
    p.add_argument("--temperature", type=float, default=0.0, help="learned rollouts' sampling noise (0 = mean flow)")
    p.add_argument("--flow-steps", type=int, default=4, help="learned rollouts' Euler steps per frame (model "
                   "default: 8; fewer is cheaper)")
    p.add_argument("--reproject", choices=("model", "on", "off"), default="model",
                   help="re-encode each simulated frame (model: the model's own setting; off is ~5x cheaper)")
    args = p.parse_args(argv)
    unknown = sorted(set(args.policies.split(",")) - set(POLICIES))
    if unknown:
        p.error(f"unknown policies {unknown}: choose from {', '.join(POLICIES)}")
    if args.episodes < 1:
        p.error("--episodes must be >= 1")
    return args


def main(argv=None) -> dict:
    args = parse(argv)
    names = args.policies.split(",")
    model = ws.load(args.model) if "cem_learned" in names else None
    resolution = model.resolution if model is not None else 64
    world = ws.worlds.make("push", resolution=resolution).config
    cem = agents.CEMConfig(horizon=args.horizon, candidates=args.candidates, elites=args.elites,
                           iterations=args.iterations)
    trial = agents.Trial(max_steps=args.max_steps, radius=args.radius, context=args.context)
    make = {
        "random": lambda: agents.random_policy(world.action_dim),
        "cem_true": lambda: agents.true_planner(world, cem),
        "cem_learned": lambda: agents.learned_planner(model, cem, temperature=args.temperature,
                                                      steps=args.flow_steps,
                                                      reproject={"model": None, "on": True, "off": False}[args.reproject]),
    }
    start = time.time()
    result = agents.evaluate({n: make[n]() for n in names}, world, args.episodes, args.seed, trial)
    result.update(model=args.model if model is not None else None, cem=dataclasses.asdict(cem), world="push",
                  resolution=resolution, temperature=args.temperature, flow_steps=args.flow_steps, reproject=args.reproject,
                  seconds=round(time.time() - start, 1))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    for name, r in result["policies"].items():
        print(f"{name:12s} success {r['success_rate']:.0%}  final distance {r['mean_final_distance']:.3f}")
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
