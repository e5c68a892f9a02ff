"""Action following (docs/eval.md 9), push world: does the controlled ball move the way it is pushed?

Counterfactual pairs: from the same conditioning frames, the predictor continues once under a constant push d
(a random unit direction, full force) and once under -d. The response is the controlled ball's tracked
displacement between the two continuations projected on d, averaged over the generated frames where it is found
in both (world units). A push is followed when the response exceeds FOLLOW_PX pixels. Comparing +d with -d
cancels what both share (the ball's own motion, friction), so a predictor that ignores actions (copy-last,
constant velocity) scores exactly 0; the world itself, simulated under the same pushes, is the reference (a wall
can stop a pushed ball, so it can score below 1).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from worldsim.probes.baseline_predictors import CopyLast
from worldsim.probes.generate import continue_clips
from worldsim.probes.tracker import track
from worldsim.worlds.render import pixel_to_world

FOLLOW_PX = 0.5  # response threshold in pixels: well above the tracker's ~0.05 px floor


def push_actions(episode, c: int, key) -> tuple[np.ndarray, np.ndarray]:
    """Unit directions d (B, 2) and actions (B, T, 2): the episode's before frame c-1, then d held to the end."""
    a = np.asarray(episode.actions, np.float32).copy()
    angle = np.asarray(jax.random.uniform(key, (a.shape[0],), maxval=2 * np.pi))
    d = np.stack([np.cos(angle), np.sin(angle)], -1).astype(np.float32)
    a[:, c - 1 :] = d[:, None]
    return d, a


def simulate_pushes(world, episode, c: int, actions) -> np.ndarray:
    """The world's own continuation under `actions` (B, T, A) from the true state at frame c-1, with frames [0, c)."""
    s = jax.tree.map(lambda x: x[:, c - 1], episode.states)
    steps = []
    for t in range(c - 1, episode.num_frames - 1):
        s = world.step(s, actions[:, t])
        steps.append(s)
    states = jax.tree.map(lambda *xs: jnp.stack(xs, 1), *steps)  # (B, H, K, ...)
    frames = np.asarray(episode.frames).copy()
    frames[:, c:] = np.asarray(world.render(states))
    return frames


def push_response(plus, minus, colour, d, c: int) -> np.ndarray:
    """(B,) mean displacement of the controlled colour (B,) between clips plus and minus, projected on d (world units)."""
    res = plus.shape[2]
    tp, tm = track(plus[:, c:]), track(minus[:, c:])
    idx = np.asarray(colour)[:, None, None, None]
    pos = lambda tr: np.take_along_axis(pixel_to_world(np.asarray(tr.pos, np.float64), res), idx, axis=2)[:, :, 0]  # noqa: E731
    both = np.take_along_axis(np.asarray(tp.present) & np.asarray(tm.present), idx[..., 0], axis=2)[:, :, 0]  # (B, H)
    proj = np.einsum("bhk,bk->bh", np.nan_to_num(pos(tp) - pos(tm)), d)
    n = both.sum(-1)
    return np.where(n > 0, np.sum(np.where(both, proj, 0.0), -1) / np.maximum(n, 1), np.nan)


def _scores(response: np.ndarray, res: int) -> dict[str, float]:
    ok = np.nan_to_num(response, nan=-np.inf) > FOLLOW_PX / res
    return {"follow_acc": float(ok.mean()), "response_px": float(np.nanmean(response) * res) if np.isfinite(response).any()
            else float("nan"), "n": int(response.size)}


def action_following(predictor, world, episode, c: int, key, batch: int) -> dict[str, dict]:
    """{'model', 'copy_last', 'oracle'}: follow_acc, response_px (mean response in pixels) and n on one push-world episode."""
    if world.action_dim == 0:
        raise ValueError(f"action following needs a controllable world (push), not {world.name!r}")
    d, plus = push_actions(episode, c, jax.random.fold_in(key, 0))
    minus = plus.copy()
    minus[:, c - 1 :] = -d[:, None]
    colour = np.asarray(episode.states.colour[:, 0])[np.arange(len(d)), np.argmax(episode.states.controlled[:, 0], -1)]
    f = np.asarray(episode.frames)
    caps = episode.captions
    # One key for +d and -d: a sampling model draws the same noise, so the difference is the action's effect.
    runs = {
        "model": [continue_clips(predictor, f, a, caps, c, jax.random.fold_in(key, 1), batch) for a in (plus, minus)],
        "copy_last": [continue_clips(CopyLast(f.shape[2]), f, a, caps, c, key, batch) for a in (plus, minus)],
        "oracle": [simulate_pushes(world, episode, c, a) for a in (plus, minus)],
    }
    return {k: _scores(push_response(p, m, colour, d, c), f.shape[2]) for k, (p, m) in runs.items()}
