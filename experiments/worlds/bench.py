"""Benchmark: world generation throughput at 64x64, worldsim (batched JAX) vs pymunk + a numpy renderer.

    .venv/bin/python experiments/worlds/bench.py [--out experiments/worlds/bench.json]

Both sides make the same clips: the baseline starts from the first frame of worldsim's own episode and renders
with `reference.render_numpy` (pixel-identical to worldsim's renderer). worldsim is timed through the public
`world.sample` (physics + render + captions) after a warm-up compile; pymunk runs one clip at a time (it has no
batch axis). pymunk is timed at several substep counts: its accuracy depends on them (the agreement column is its
max distance from worldsim's exact trajectories, in pixels), worldsim's does not. Frames/s normalises the
different clip counts. Each side reports its best of --reps runs (the machine may be shared: best-of is the least
disturbed estimate); the load average at the start is saved with the results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform

import jax
import numpy as np

from worldsim.bench.worldgen import time_pymunk, time_worldsim


def main(argv=None):
    import worldsim.worlds as worlds

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="experiments/worlds/bench.json")
    p.add_argument("--worlds", nargs="+", default=["bouncing_balls", "gravity"])
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--batch", type=int, default=256, help="worldsim clips per sample call")
    p.add_argument("--clips", type=int, default=16, help="pymunk clips (run one by one)")
    p.add_argument("--substeps", type=int, nargs="+", default=[300, 100, 10], help="pymunk steps per frame")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    import pymunk

    load = os.getloadavg()[0]
    rows = []
    for name in args.worlds:
        world = worlds.make(name, resolution=args.resolution, num_frames=args.frames)
        sec, ep = time_worldsim(world, args.batch, args.reps, args.seed)
        ws_fps = args.batch * args.frames / sec
        rows.append(dict(world=name, engine="worldsim", substeps=None, clips=args.batch, seconds=sec, fps=ws_fps,
                         ratio=1.0, agree_median_px=0.0, agree_max_px=0.0))
        states = jax.tree.map(np.asarray, ep.states)
        for sub in args.substeps:
            runs = [time_pymunk(world, states, args.clips, sub) for _ in range(args.reps)]
            t_phys, t_render, errs = min(runs, key=lambda r: r[0] + r[1])
            fps = args.clips * args.frames / (t_phys + t_render)
            rows.append(dict(world=name, engine="pymunk+numpy", substeps=sub, clips=args.clips,
                             seconds=t_phys + t_render, physics_seconds=t_phys, render_seconds=t_render, fps=fps,
                             ratio=ws_fps / fps, agree_median_px=float(np.median(errs)),
                             agree_max_px=float(np.max(errs))))

    print(f"\n{args.resolution}x{args.resolution}, {args.frames} frames/clip, jax {jax.__version__} on "
          f"{jax.default_backend()} ({os.cpu_count()} CPUs), pymunk {pymunk.version}\n")
    print("| world | engine | substeps | clips | frames/s | physics / render ms per clip | worldsim speed-up "
          "| pymunk vs exact, median / max px |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        sub = "-" if r["substeps"] is None else r["substeps"]
        agree = "exact" if r["engine"] == "worldsim" else f"{r['agree_median_px']:.3f} / {r['agree_max_px']:.3f}"
        split = "-" if r["substeps"] is None else (
            f"{1e3 * r['physics_seconds'] / r['clips']:.1f} / {1e3 * r['render_seconds'] / r['clips']:.1f}")
        print(f"| {r['world']} | {r['engine']} | {sub} | {r['clips']} | {r['fps']:.0f} | {split} | {r['ratio']:.1f}x "
              f"| {agree} |")
    meta = dict(resolution=args.resolution, frames=args.frames, batch=args.batch, clips=args.clips, reps=args.reps,
                jax=jax.__version__, backend=jax.default_backend(), cpus=os.cpu_count(), pymunk=pymunk.version,
                python=platform.python_version(), loadavg_1min_at_start=load)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
