"""The baselines every model must beat (docs/eval.md), as predicted clips any measure can score.

All return uint8 (B, T, H, W, 3) clips whose frames [0, c) are the truth's conditioning frames:
  copy_last                  frame c-1 repeated.
  constant_velocity_tracked  from pixels only: per palette colour, the velocity is the least-squares slope of the
                             tracked centres over the conditioning frames (the unflagged ones when >= 2 are, else
                             all where the colour is found; zero for c = 1), extrapolated from the last tracked
                             centre; drawn with the mean tracked radius by the world's renderer. Nothing from the
                             true state, so it is what a model can do from the given frames by linear motion.
  constant_velocity_true     the exact position and velocity at frame c-1 extrapolated in straight lines, with the
                             true radii and colours (no walls, no collisions, no gravity).
  oracle                     the truth itself: its measures are the tracker's floor.
normalised_score(e_model, e_copy, e_floor) = (e_copy - e_model) / (e_copy - e_floor): 1 perfect, 0 copy-last.
"""

from __future__ import annotations

import numpy as np

from worldsim.probes.align import check_c, check_clip, check_states
from worldsim.probes.measures import ERRORS, measure
from worldsim.probes.tracker import track
from worldsim.worlds.palette import COLOURS
from worldsim.worlds.render import pixel_to_world
from worldsim.worlds.state import ball_states


def _given(frames, c):
    frames = check_clip(frames, "frames")
    return frames, check_c(c, frames.shape[1])


def _check_world(world, frames):
    res = getattr(getattr(world, "config", None), "resolution", None)
    if res is None or not callable(getattr(world, "render", None)):
        raise ValueError(f"world must be a worldsim World (worldsim.worlds.make(...)), got {type(world).__name__}")
    if res != frames.shape[2]:
        raise ValueError(f"the world renders {res}x{res} but the frames are {frames.shape[2]}x{frames.shape[3]}: "
                         "make the world with resolution=H")


def copy_last(frames, c: int) -> np.ndarray:
    """Repeat frame c-1 for every generated frame."""
    frames, c = _given(frames, c)
    out = frames.copy()
    out[:, c:] = frames[:, c - 1 : c]
    return out


def oracle(frames) -> np.ndarray:
    """The ground-truth frames themselves (the tracker floor)."""
    return check_clip(frames, "frames").copy()


def _render_after(world, frames, c, pos, radius, colour, present) -> np.ndarray:
    """Frames [0, c) given, then the states (B, H, K, ...) of the generated frames rendered by the world."""
    states = ball_states(pos=pos, radius=radius, colour=colour, present=present)
    out = frames.copy()
    out[:, c:] = np.asarray(world.render(states))
    return out


def constant_velocity_tracked(frames, c: int, world) -> np.ndarray:
    """Constant velocity from the tracked conditioning frames (see the module doc), rendered with `world`."""
    frames, c = _given(frames, c)
    _check_world(world, frames)
    res, t_len = frames.shape[2], frames.shape[1]
    tr = track(frames[:, :c])
    pos = pixel_to_world(np.asarray(tr.pos, np.float64), res)  # (B, c, C, 2)
    seen, valid = np.asarray(tr.present), np.asarray(tr.valid)
    w = np.where(valid.sum(1, keepdims=True) >= 2, valid, seen).astype(np.float64)  # (B, c, C)
    t = np.arange(c, dtype=np.float64)[None, :, None]
    n = np.maximum(w.sum(1, keepdims=True), 1e-12)
    tc = t - np.sum(w * t, 1, keepdims=True) / n
    xc = np.nan_to_num(pos) - np.sum(w[..., None] * np.nan_to_num(pos), 1, keepdims=True) / n[..., None]
    den = np.sum(w * tc**2, 1)  # (B, C)
    slope = np.sum((w * tc)[..., None] * xc, 1) / np.where(den > 0, den, 1.0)[..., None]  # world units / frame
    slope = np.where((den > 0)[..., None], slope, 0.0)
    last = np.where(seen, np.arange(c)[None, :, None], -1).max(1)  # (B, C) last frame the colour was found
    last_pos = np.take_along_axis(np.nan_to_num(pos), np.maximum(last, 0)[:, None, :, None], axis=1)[:, 0]
    steps = np.arange(c, t_len)[None, :, None] - last[:, None, :]  # (B, H, C)
    future = last_pos[:, None] + steps[..., None] * slope[:, None]  # (B, H, C, 2)
    radius = np.sum(np.where(seen, np.asarray(tr.radius), 0.0), 1) / np.maximum(seen.sum(1), 1) / res  # (B, C)
    present = last >= 0
    b, h, n_col = future.shape[0], future.shape[1], len(COLOURS)
    rep = lambda x: np.broadcast_to(x[:, None], (b, h, n_col))  # noqa: E731
    return _render_after(world, frames, c, future, rep(radius), rep(np.arange(n_col)[None].repeat(b, 0)), rep(present))


def constant_velocity_true(states, frames, c: int, world) -> np.ndarray:
    """Exact position and velocity at frame c-1 extrapolated in straight lines (true radii and colours)."""
    frames, c = _given(frames, c)
    _check_world(world, frames)
    states = check_states(states, frames.shape)
    dt = world.config.dt
    t_len = frames.shape[1]
    at = lambda x: np.asarray(x)[:, c - 1]  # noqa: E731
    steps = (np.arange(c, t_len) - (c - 1)) * dt  # (H,) seconds after frame c-1
    future = at(states.pos)[:, None] + steps[None, :, None, None] * at(states.vel)[:, None]  # (B, H, K, 2)
    rep = lambda x: np.broadcast_to(at(x)[:, None], future.shape[:-1])  # noqa: E731
    return _render_after(world, frames, c, future, rep(states.radius), rep(states.colour), rep(states.present))


def normalised_score(e_model, e_copy, e_floor):
    """(e_copy - e_model) / (e_copy - e_floor): 1 scores the floor, 0 copy-last, < 0 worse than copy-last.
    NaN where copy-last already scores the floor (the measure cannot separate them). Broadcasts over arrays."""
    e_model, e_copy, e_floor = (np.asarray(x, np.float64) for x in (e_model, e_copy, e_floor))
    gap = e_copy - e_floor
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(gap != 0, (e_copy - e_model) / np.where(gap != 0, gap, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out


def baseline_measures(world, episode, c: int, **kwargs) -> dict[str, dict]:
    """measure() of the four baselines on an Episode of `world`: {'oracle', 'copy_last', 'cv_tracked', 'cv_true'},
    each with `score_<error>` = normalised_score against copy-last and the oracle for every error in ERRORS."""
    f, s = np.asarray(episode.frames), episode.states
    preds = {
        "oracle": oracle(f),
        "copy_last": copy_last(f, c),
        "cv_tracked": constant_velocity_tracked(f, c, world),
        "cv_true": constant_velocity_true(s, f, c, world),
    }
    out = {name: measure(p, f, s, c, episode.dt, **kwargs) for name, p in preds.items()}
    for m in out.values():
        m.update({f"score_{k}": normalised_score(m[k], out["copy_last"][k], out["oracle"][k]) for k in ERRORS
                  if k in m})  # pixel errors are absent with pixels=False
    return out
