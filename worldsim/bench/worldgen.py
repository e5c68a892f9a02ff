"""World generation throughput: worldsim (batched JAX) against pymunk + a numpy renderer making the same clips.
Used by `worldsim bench` and experiments/worlds/bench.py (which sweeps pymunk's substeps)."""

from __future__ import annotations

import time

import jax
import numpy as np


def time_worldsim(world, batch: int, reps: int, seed: int):
    """Best seconds of world.sample(key, batch) over `reps` calls after a warm-up call; returns (seconds, episode)."""
    ep = world.sample(jax.random.key(seed), batch)  # compile
    jax.block_until_ready(ep.frames)
    times = []
    for i in range(reps):
        t0 = time.perf_counter()
        ep = world.sample(jax.random.key(seed + 1 + i), batch)
        jax.block_until_ready(ep.frames)
        times.append(time.perf_counter() - t0)
    return min(times), ep


def time_pymunk(world, states, clips: int, substeps: int):
    """One timed pass of pymunk physics + numpy render over the first `clips` clips of `states` (leaves (B, T, ...)).

    Returns (physics seconds, render seconds, per-clip max distance from worldsim's trajectory in pixels)."""
    from worldsim.worlds import reference

    cfg = world.config
    t_phys = t_render = 0.0
    errs = []
    for b in range(clips):
        s0 = jax.tree.map(lambda x: x[b, 0], states)
        t0 = time.perf_counter()
        pos, _ = reference.simulate_pymunk(s0, cfg.num_frames, cfg.dt, cfg.gravity, cfg.restitution, substeps=substeps)
        t1 = time.perf_counter()
        frames = reference.render_numpy(pos, s0.radius, s0.colour, s0.present, cfg.resolution, cfg.occluder)
        t_render += time.perf_counter() - t1
        t_phys += t1 - t0
        assert frames.shape == (cfg.num_frames, cfg.resolution, cfg.resolution, 3)
        gap = np.linalg.norm(pos - states.pos[b], axis=-1)[:, states.present[b, 0]]  # (T, present balls)
        errs.append(float(gap.max()) * cfg.resolution)
    return t_phys, t_render, errs


def speedup(world_name: str = "bouncing_balls", resolution: int = 64, frames: int = 32, batch: int = 256,
            clips: int = 8, substeps: int = 100, reps: int = 3) -> dict:
    """worldsim frames/s over pymunk frames/s on the same starts (pymunk at `substeps` per frame); None-valued
    when pymunk is not installed (it is a test extra)."""
    import worldsim.worlds as worlds

    world = worlds.make(world_name, resolution=resolution, num_frames=frames)
    sec, ep = time_worldsim(world, batch, reps, 0)
    ws_fps = batch * frames / sec
    try:
        import pymunk  # noqa: F401
    except ImportError:
        return {"worldsim_fps": ws_fps, "pymunk_fps": None, "ratio": None, "substeps": substeps}
    states = jax.tree.map(np.asarray, ep.states)
    runs = [time_pymunk(world, states, clips, substeps) for _ in range(reps)]
    t_phys, t_render, errs = min(runs, key=lambda r: r[0] + r[1])
    pm_fps = clips * frames / (t_phys + t_render)
    return {"worldsim_fps": ws_fps, "pymunk_fps": pm_fps, "ratio": ws_fps / pm_fps, "substeps": substeps,
            "pymunk_max_px": float(np.max(errs))}
