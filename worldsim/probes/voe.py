"""Violation-of-expectation scores (docs/eval.md measure 8) from per-clip surprise of matched pairs.

Surprise is the model's own prediction error on a clip (latent error or token NLL), one number per clip: reduce
per-frame surprise first (e.g. its max or mean over the frames after the violation). possible[i] and impossible[i]
come from the same start (World.sample_violations).
  pairwise accuracy: share of pairs whose impossible clip is more surprising (a tie counts half);
  AUROC: the probability that a random impossible clip is more surprising than a random possible one, from ranks
    (Mann-Whitney U; ties count half). 1.0 separates perfectly, 0.5 is chance.
"""

from __future__ import annotations

import numpy as np


def _pair(possible, impossible):
    p, q = np.asarray(possible, np.float64), np.asarray(impossible, np.float64)
    if p.ndim != 1 or q.ndim != 1:
        raise ValueError(f"surprise must be one number per clip, shape (N,), got {p.shape} and {q.shape}: "
                         "reduce per-frame surprise first, e.g. s.max(-1)")
    if p.size == 0 or q.size == 0:
        raise ValueError("surprise arrays are empty: score at least one pair")
    if not (np.all(np.isfinite(p)) and np.all(np.isfinite(q))):
        raise ValueError("surprise contains NaN or inf: fix the model's scores (or drop those pairs) first")
    return p, q


def pairwise_accuracy(possible, impossible) -> float:
    """Share of matched pairs i with impossible[i] > possible[i]; ties count half. Shapes (N,), (N,)."""
    p, q = _pair(possible, impossible)
    if p.shape != q.shape:
        raise ValueError(f"matched pairs need equal lengths, got {p.size} possible and {q.size} impossible clips")
    return float(np.mean((q > p) + 0.5 * (q == p)))


def _ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank."""
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    first = np.r_[True, sorted_x[1:] != sorted_x[:-1]]
    ids = np.cumsum(first) - 1  # tie group per sorted position
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], x.size]
    avg = (starts + ends + 1) / 2.0  # mean of 1-based ranks start+1 .. end
    ranks = np.empty(x.size)
    ranks[order] = avg[ids]
    return ranks


def auroc(possible, impossible) -> float:
    """Area under the ROC curve for telling impossible (positive) from possible clips by surprise."""
    p, q = _pair(possible, impossible)
    ranks = _ranks(np.concatenate([q, p]))
    u = ranks[: q.size].sum() - q.size * (q.size + 1) / 2.0
    return float(u / (q.size * p.size))


def voe_scores(possible, impossible) -> dict[str, float]:
    """{'pairwise_accuracy', 'auroc', 'n_pairs'} of matched surprise arrays (N,), (N,)."""
    return {
        "pairwise_accuracy": pairwise_accuracy(possible, impossible),
        "auroc": auroc(possible, impossible),
        "n_pairs": int(np.size(possible)),
    }
