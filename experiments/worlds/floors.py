"""Floors of the ground-truth worlds: what the measures of worldsim/docs/eval.md read on perfect data.

    .venv/bin/python experiments/worlds/floors.py [--out experiments/worlds/floors.json]

(i)   tracker floor: `probes.floor_error` on ground-truth frames of held-out seeds, every world, 32/64/128 px;
(ii)  bouncing_balls conservation: relative energy drift over the clip, relative momentum change between frames
      with no wall contact, worst ball-ball overlap (fraction of the smaller radius), balls inside the box;
(iii) gravity: the same with energy = kinetic + potential;
(iv)  agreement with pymunk on the crosscheck scenes of worldsim.worlds.reference (max px at 64x64).
"""

from __future__ import annotations

import argparse
import json
import os

import jax
import numpy as np


def tracker_floor(world, res: int, clips: int, chunk: int, seed: int) -> dict:
    """floor_error over `clips` clips, sampled and tracked `chunk` at a time (128 px tracking is memory-hungry)."""
    from worldsim.probes import floor_error

    parts = []
    for i in range(0, clips, chunk):
        ep = world.sample(jax.random.key(seed + i), min(chunk, clips - i))
        f = floor_error(ep.frames, ep.states, res)
        n_valid = f["valid_fraction"] * float(np.asarray(ep.states.present).sum())
        parts.append((f, n_valid))
    w = np.array([n for _, n in parts])
    mean = lambda k: float(np.sum([f[k] * n for f, n in parts]) / w.sum())  # noqa: E731  valid-frame weighted
    return {
        "mean_px": mean("mean_px"),
        "max_px": max(f["max_px"] for f, _ in parts),
        "radius_mean_px": mean("radius_mean_px"),
        "valid_fraction": float(np.mean([f["valid_fraction"] for f, _ in parts])),
        "presence_accuracy": float(np.mean([f["presence_accuracy"] for f, _ in parts])),
    }


def conservation(world, clips: int, seed: int) -> dict:
    """Energy drift, momentum change on wall-free frames, overlap and box containment over `clips` clips."""
    from worldsim.worlds import kinetic_energy, momentum, potential_energy

    ep, walls = world.sample_with_contacts(jax.random.key(seed), clips)
    s = ep.states  # leaves (B, T, ...)
    energy = np.asarray(kinetic_energy(s) + potential_energy(s), np.float64)  # (B, T)
    drift = np.abs(energy - energy[:, :1]) / energy[:, :1]

    p = np.asarray(momentum(s), np.float64)  # (B, T, 2)
    present = np.asarray(s.present)
    mass, vel = np.asarray(s.mass), np.asarray(s.vel)
    scale = np.sum(np.where(present, mass * np.linalg.norm(vel, axis=-1), 0.0), -1)  # (B, T) sum m|v|
    quiet = np.asarray(walls)[:, 1:] == 0  # (B, T-1): no wall contact between frame t-1 and t
    dp = np.linalg.norm(p[:, 1:] - p[:, :-1], axis=-1)
    p_prev = np.linalg.norm(p[:, :-1], axis=-1)
    big = quiet & (p_prev > 1e-2 * scale[:, :-1])  # |P| too close to 0 makes the relative change meaningless

    pos, radius = np.asarray(s.pos, np.float64), np.asarray(s.radius, np.float64)
    d = np.linalg.norm(pos[..., :, None, :] - pos[..., None, :, :], axis=-1)  # (B, T, K, K)
    reach = radius[..., :, None] + radius[..., None, :]
    k = pos.shape[-2]
    pair = present[..., :, None] & present[..., None, :] & ~np.eye(k, dtype=bool)
    overlap = np.where(pair, (reach - d) / np.minimum(radius[..., :, None], radius[..., None, :]), -np.inf)
    outside = np.where(present[..., None], np.maximum(radius[..., None] - pos, pos - (1 - radius[..., None])), -np.inf)
    return {
        "clips": clips,
        "energy_drift_max": float(drift.max()),
        "momentum_change_max_rel_P": float((dp / np.maximum(p_prev, 1e-30))[big].max()) if big.any() else None,
        "momentum_change_max_rel_sum_mv": float((dp / scale[:, :-1])[quiet].max()),
        "wall_free_frame_pairs": int(quiet.sum()),
        "overlap_max_frac_radius": float(max(overlap.max(), 0.0)),
        "outside_box_max": float(max(outside.max(), 0.0)),
        "inside_box": bool(outside.max() <= 1e-6),
    }


def main(argv=None):
    import worldsim.worlds as worlds
    from worldsim.worlds import reference

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="experiments/worlds/floors.json")
    p.add_argument("--clips", type=int, default=64, help="held-out clips per world and resolution (tracker floor)")
    p.add_argument("--conservation-clips", type=int, default=512)
    p.add_argument("--seed", type=int, default=1_000_003, help="held out: no training run should use seeds near it")
    args = p.parse_args(argv)

    out = {"seed": args.seed, "tracker_floor": {}, "conservation": {}, "pymunk_agreement_px_at_64": {}}
    print("\n## Tracker floor on ground-truth frames (pixels)\n")
    print("| world | res | mean px | max px | radius mean px | valid fraction | presence accuracy |")
    print("|---|---|---|---|---|---|---|")
    for name in worlds.names():
        for res in (32, 64, 128):
            world = worlds.make(name, resolution=res, num_frames=32)
            f = tracker_floor(world, res, args.clips, 16 if res >= 128 else args.clips, args.seed)
            out["tracker_floor"][f"{name}@{res}"] = f
            print(f"| {name} | {res} | {f['mean_px']:.4f} | {f['max_px']:.4f} | {f['radius_mean_px']:.4f} "
                  f"| {f['valid_fraction']:.3f} | {f['presence_accuracy']:.4f} |")

    print("\n## Conservation over 32 frames (float32 event-driven physics)\n")
    print("| world | energy drift max | momentum change max / norm(P) | same / sum m norm(v) | overlap max / r "
          "| outside box max | inside |")
    print("|---|---|---|---|---|---|---|")
    for name in ("bouncing_balls", "gravity"):
        c = conservation(worlds.make(name, num_frames=32), args.conservation_clips, args.seed)
        out["conservation"][name] = c
        mom = "-" if name == "gravity" else f"{c['momentum_change_max_rel_P']:.2e}"  # gravity changes momentum
        mom2 = "-" if name == "gravity" else f"{c['momentum_change_max_rel_sum_mv']:.2e}"
        print(f"| {name} | {c['energy_drift_max']:.2e} | {mom} | {mom2} | {c['overlap_max_frac_radius']:.2e} "
              f"| {c['outside_box_max']:.2e} | {c['inside_box']} |")

    print("\n## pymunk agreement (crosscheck scenes, 32 frames, max over frames and balls)\n")
    print(f"| scene | max px at 64x64 ({reference.DEFAULT_SUBSTEPS} pymunk substeps/frame) |")
    print("|---|---|")
    for name in reference.SCENES:
        err = reference.compare_scene(name, resolution=64)["max_px"]
        out["pymunk_agreement_px_at_64"][name] = err
        print(f"| {name} | {err:.4f} |")
    out["pymunk_substeps"] = reference.DEFAULT_SUBSTEPS

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
