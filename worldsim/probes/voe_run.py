"""Violation of expectation (docs/eval.md 8) through a predictor's own surprise on matched pairs.

Each pair (World.sample_violations) shares its frames up to the violation frame tv. The predictor scores every
frame of both clips (predictor.surprise -> (B, T)); a clip's surprise is its maximum over frames t >= tv, where
the clips can differ. Both clips of a pair get the same key, so a sampling model's noise is matched too.
"""

from __future__ import annotations

import jax
import numpy as np

from worldsim.probes.generate import episode_actions
from worldsim.probes.predictor import check_surprise
from worldsim.probes.voe import voe_scores


def reduce_surprise(surprise, frame) -> np.ndarray:
    """(B,) max of per-frame surprise (B, T) over t >= frame[b] (the violation frame of pair b)."""
    s, frame = np.asarray(surprise, np.float64), np.asarray(frame)
    after = np.arange(s.shape[1])[None, :] >= frame[:, None]
    return np.max(np.where(after, s, -np.inf), axis=1)


def clip_surprise(predictor, episode, key, batch: int) -> np.ndarray:
    """(B, T) predictor.surprise over an episode's clips in batches, checked."""
    f = np.asarray(episode.frames)
    actions = episode_actions(episode, f.shape[1])
    out = []
    for i, start in enumerate(range(0, f.shape[0], batch)):
        sl = slice(start, start + batch)
        got = predictor.surprise(f[sl], None if actions is None else actions[sl], jax.random.fold_in(key, i))
        out.append(check_surprise(got, f[sl].shape[:2]))
    return np.concatenate(out, 0)


def voe_run(predictor, world, kind: str, pairs: int, key, batch: int) -> dict:
    """pairwise_accuracy, auroc, n_pairs and the per-clip surprise lists ('possible', 'impossible') of one kind."""
    vp = world.sample_violations(jax.random.fold_in(key, 0), pairs, kind)
    k = jax.random.fold_in(key, 1)
    possible = reduce_surprise(clip_surprise(predictor, vp.possible, k, batch), vp.frame)
    impossible = reduce_surprise(clip_surprise(predictor, vp.impossible, k, batch), vp.frame)
    return {**voe_scores(possible, impossible), "possible": possible, "impossible": impossible}


def kinds_for(world, kinds) -> list[str]:
    """The violation kinds a world can show: gravity_flip needs gravity."""
    return [k for k in kinds if k != "gravity_flip" or world.config.gravity > 0]
