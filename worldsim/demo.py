"""`worldsim demo`: the shipped default model at work (45 s on 2 CPU cores the first time, 22 s later; README).

Writes to one folder, each as .mp4, .gif and a PNG contact sheet with the colour tracker's trajectories drawn on:
- text: clips generated from text prompts alone;
- bouncing_balls, gravity: 3 ground-truth frames, then the model's continuation, beside the ground truth
  (left: truth, right: model);
- push: the same start and the same pushes (actions) given to the true world and to the model, side by side;
and prints a short physics report: velocity error of the continuations beside copy-last, constant velocity and the
tracker floor (a few clips; experiments/default/results.md has the full evaluation).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np

from worldsim import io, probes, viz, worlds
from worldsim.io.progress import phase

CLIPS = 4  # one batch size for every part, so the simulator compiles once
FRAMES = 32  # frames per clip
GIVEN = 3  # ground-truth frames the continuations start from
VIDEO_SCALE = 3  # videos show each pixel as 3x3

PROMPTS = (
    "One bouncing ball: a large red ball in the center moving right quickly.",
    "Two bouncing balls: a medium green ball at the top left moving down-right, a large blue ball at the bottom "
    "right moving up-left.",
    "One ball under gravity: a large yellow ball at the top moving right.",
    "Three bouncing balls: a large magenta ball at the left moving right, a medium cyan ball at the top moving "
    "down, a large red ball at the bottom right moving left.",
)


def scripted_pushes(steps: int) -> np.ndarray:
    """(steps, 2) pushes of the agent ball: right, then up, then left, then down (kicks in [-1, 1])."""
    dirs = np.array([[1, 0], [0, -1], [-1, 0], [0, 1]], np.float32)
    acts = np.zeros((steps, 2), np.float32)
    for i in range(steps):
        if i % 8 == 0:  # one kick every 8 frames, cycling through the directions
            acts[i] = dirs[(i // 8) % 4]
    return acts


def _tracks(*parts: np.ndarray) -> np.ndarray:
    """Tracks of clips placed side by side (each (N, T, H, W, 3)), tracked apart and shifted to their place."""
    out, x0 = [], 0
    for p in parts:
        pos = np.asarray(probes.track(p).pos).copy()  # (N, T, C, 2) pixel x, y
        pos[..., 0] += x0
        out.append(pos)
        x0 += p.shape[3]
    return np.concatenate(out, axis=2)  # (N, T, C * len(parts), 2)


def _tiled(clips: list[np.ndarray]) -> np.ndarray:
    """The clips two per row, each pixel shown as 3x3: videos big enough to watch (the frames are 64 pixels)."""
    return viz.upscale(viz.grid(clips, columns=2, gap=2), VIDEO_SCALE)


def _save(out: Path, label: str, frames: np.ndarray, video: np.ndarray, labels, fps: float,
          tracks: np.ndarray | None = None, log: Callable[[str], None] = print) -> list[Path]:
    """Write label.mp4, label.gif and label_sheet.png, naming each as soon as it is on disk."""
    n_parts = 1 if tracks is None else tracks.shape[2] // len(worlds.COLOURS)
    tracks = _tracks(frames) if tracks is None else tracks
    sheet = viz.contact_sheet(frames, every=4, tracks=tracks, labels=labels,
                              colours=np.concatenate([np.asarray(worlds.COLOURS)] * n_parts))
    written = []
    for write in (lambda: io.write_video(out / f"{label}.mp4", video, fps=fps),
                  lambda: io.write_video(out / f"{label}.gif", video, fps=fps),
                  lambda: io.write_image(out / f"{label}_sheet.png", sheet)):
        written.append(write())
        log(f"  wrote {written[-1]}")
    return written


def run_demo(out="worldsim_demo", seed: int = 0, model="default", fps: float = 10,
             log: Callable[[str], None] = print) -> dict[str, list[Path]]:
    """Write the demo files into `out`; returns {part: [mp4, gif, png]} and logs what it wrote and the report."""
    import worldsim as ws

    out = io.writable_folder(out)  # fails fast, before any model work, when it cannot be written
    if isinstance(model, str):
        with phase(f"loading the model ({model})"):
            wm = ws.load(model)
    else:
        wm = model
    sim = ws.Simulator(wm, batch_size=CLIPS)
    res = wm.resolution
    key = jax.random.key(seed)
    steps = FRAMES - GIVEN
    written, report = {}, {}
    log(f"model: {wm.source} (sampling temperature {sim.temperature}, reprojection {sim.reproject})")

    # 1. From text alone. The first part also compiles the simulator (most of its time on a CPU).
    log("\ntext (generated from the prompt alone; compiling the simulator first):")
    for p in PROMPTS:
        log(f"  {p}")
    # As many generated frames as the continuations below: one rollout program serves both (compiling is most of
    # the demo's time on a CPU).
    with phase(f"compiling the simulator, then generating {CLIPS} clips of {steps + 1} frames"):
        state = sim.reset(jax.random.fold_in(key, 0), prompt=list(PROMPTS))
        first = np.asarray(sim.render(state))[:, None]
        _, outs = sim.rollout(state, np.zeros((CLIPS, steps, wm.action_dim), np.float32), jax.random.fold_in(key, 1))
        frames = np.concatenate([first, np.asarray(outs.frames[:, :, -1])], axis=1)
    written["text"] = _save(out, "text", frames, _tiled(list(frames)), list(PROMPTS), fps, log=log)

    # 2-3. Continuations of ground truth, and 4. push with actions.
    for i, name in enumerate(("bouncing_balls", "gravity", "push"), start=2):
        log(f"\n{name} ({GIVEN} true frames, then {steps} generated" + (", scripted pushes):" if name == "push"
                                                                          else "):"))
        world = worlds.make(name, resolution=res, num_frames=FRAMES)
        k = jax.random.fold_in(key, i)
        if name == "push":
            acts = np.broadcast_to(scripted_pushes(FRAMES), (CLIPS, FRAMES, 2)).copy()
            ep = world.play(world.reset(k, CLIPS), acts)  # the true world under the scripted pushes
        else:
            ep = world.sample(k, CLIPS)
            acts = np.zeros((CLIPS, FRAMES, wm.action_dim), np.float32)
        truth = np.asarray(ep.frames)
        with phase(f"generating {CLIPS} continuations of {steps} frames"):
            state = sim.reset(jax.random.fold_in(k, 1), prompt=list(ep.captions), frames=truth[:, :GIVEN],
                              actions=acts[:, : GIVEN - 1])
            _, outs = sim.rollout(state, acts[:, GIVEN - 1 : FRAMES - 1], jax.random.fold_in(k, 2))
            pred = np.concatenate([truth[:, :GIVEN], np.asarray(outs.frames[:, :, -1])], axis=1)
        both = np.concatenate([truth, pred], axis=3)  # (N, T, H, 2W, 3): truth | model per clip
        video = _tiled([viz.side_by_side(t, p, gap=1) for t, p in zip(truth, pred)])
        written[name] = _save(out, name, both, video, [f"truth | model: {c}" for c in ep.captions], fps,
                              tracks=_tracks(truth, pred), log=log)
        m = probes.measure(pred, truth, ep.states, GIVEN, ep.dt, pixels=False)
        base = probes.baseline_measures(world, ep, GIVEN, pixels=False)
        report[name] = {"model": m, **base}

    log("\nPhysics report (velocity error, world units/s, over the generated frames; lower is better):")
    log(f"  {'world':15s} {'model':>7s} {'copy-last':>10s} {'const.vel.':>11s} {'floor':>7s}  {'score':>6s}  "
        "object count right")
    for name, r in report.items():
        score = probes.normalised_score(r["model"]["vel_err"], r["copy_last"]["vel_err"], r["oracle"]["vel_err"])
        log(f"  {name:15s} {r['model']['vel_err']:7.3f} {r['copy_last']['vel_err']:10.3f} "
            f"{r['cv_tracked']['vel_err']:11.3f} {r['oracle']['vel_err']:7.3f}  {float(score):6.2f}  "
            f"{100 * r['model']['count_acc']:.0f}% of frames")
    log(f"  ({CLIPS} clips each; score 1 = the floor, 0 = copy-last. Full evaluation: experiments/default/results.md)")
    log(f"\nDone: {sum(map(len, written.values()))} files in {out.resolve()}")
    return written
