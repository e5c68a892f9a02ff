"""`worldsim demo`: what the package makes, in under a minute.

Until a trained model ships, the demo shows the ground-truth worlds a model learns from: for each world a few
clips side by side as .mp4 and .gif, and a PNG contact sheet with the colour tracker's trajectories drawn on
(the same tracker the physics probes use on generated video).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np

from worldsim import io, probes, viz, worlds

# (name in the output folder, world, overrides): every registered world, plus one with the occluder bar.
DEMO_WORLDS = (
    ("bouncing_balls", "bouncing_balls", {}),
    ("gravity", "gravity", {}),
    ("push", "push", {}),
    ("bouncing_balls_occluder", "bouncing_balls", {"occluder": True}),
)


def run_demo(out="worldsim_demo", seed: int = 0, clips: int = 3, resolution: int = 64, num_frames: int = 32,
             fps: float = 10, log: Callable[[str], None] = print) -> dict[str, list[Path]]:
    """Write the demo files into `out`; returns {demo name: [mp4, gif, png]} and logs captions and paths."""
    out = io.writable_folder(out)  # creates it; fails fast, before any sampling, when it cannot be written
    log("No trained model ships yet: showing the ground-truth worlds a model is trained on.")
    written = {}
    for i, (label, name, overrides) in enumerate(DEMO_WORLDS):
        world = worlds.make(name, resolution=resolution, num_frames=num_frames, **overrides)
        # a different key per world: with one key every world would start from the same ball layouts
        ep = world.sample(jax.random.fold_in(jax.random.key(seed), i), clips)
        frames = np.asarray(ep.frames)  # (N, T, H, W, 3)
        row = viz.side_by_side(*frames)  # (T, H, N*W + gaps, 3): all clips in one video
        tracks = np.asarray(probes.track(frames).pos)  # (N, T, C, 2), one track per palette colour
        sheet = viz.contact_sheet(frames, every=4, tracks=tracks, labels=ep.captions, colours=worlds.COLOURS)
        files = [
            io.write_video(out / f"{label}.mp4", row, fps=fps),
            io.write_video(out / f"{label}.gif", row, fps=fps),
            io.write_image(out / f"{label}_sheet.png", sheet),
        ]
        written[label] = files
        log(f"\n{label}:")
        for i, caption in enumerate(ep.captions):
            log(f"  clip {i}: {caption}")
        for f in files:
            log(f"  wrote {f}")
    log(f"\nDone: {sum(map(len, written.values()))} files in {out.resolve()}")
    return written
