"""Run a Predictor on episodes in batches and check what it returns (shapes, dtype) before anything is measured."""

from __future__ import annotations

import jax
import numpy as np

from worldsim.probes.predictor import check_frames_out


def episode_actions(episode, num_frames: int):
    """float32 (B, num_frames, A) actions of the episode, or None in passive worlds (A = 0)."""
    a = np.asarray(episode.actions, np.float32)[:, :num_frames]
    return None if a.shape[-1] == 0 else a


def continue_clips(predictor, frames, actions, captions, c: int, key, batch: int) -> np.ndarray:
    """Whole predicted clips (B, T, H, W, 3): the given frames[:, :c], then the predictor's T - c frames.

    frames: uint8 (B, T, H, W, 3), of which only [:, :c] is shown to the predictor; actions (B, T, A) or None;
    captions: B strings or None. Calls continue_frames on `batch` clips at a time, key folded per batch.
    """
    frames = np.asarray(frames)
    b, t = frames.shape[:2]
    if b == 0:
        raise ValueError("no clips to continue: the suite needs clips >= 1")
    h = t - c
    out = []
    for i, start in enumerate(range(0, b, batch)):
        sl = slice(start, min(start + batch, b))
        n = sl.stop - sl.start
        gen = predictor.continue_frames(
            frames[sl, :c], None if actions is None else actions[sl, :t],
            None if captions is None else list(captions[sl]), h, jax.random.fold_in(key, i),
        )
        out.append(check_frames_out(gen, (n, h) + frames.shape[2:], f"{predictor.name}.continue_frames"))
    return np.concatenate([frames[:, :c], np.concatenate(out, 0)], axis=1)
