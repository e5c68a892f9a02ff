"""Violation-of-expectation scores: perfect separation, chance, ties, and a brute-force AUROC."""

import numpy as np
import pytest

from worldsim.probes import auroc, pairwise_accuracy, voe_scores


def test_perfect_separation_and_identical_scores():
    possible = np.arange(10.0)
    assert voe_scores(possible, possible + 100) == {"pairwise_accuracy": 1.0, "auroc": 1.0, "n_pairs": 10}
    assert pairwise_accuracy(possible, possible) == 0.5 and auroc(possible, possible) == 0.5
    assert pairwise_accuracy(possible + 100, possible) == 0.0 and auroc(possible + 100, possible) == 0.0


def test_ties_count_half():
    assert auroc([0.0, 1.0], [1.0, 2.0]) == pytest.approx(3.5 / 4)  # one tie among four comparisons
    assert pairwise_accuracy([0.0, 1.0], [1.0, 1.0]) == pytest.approx(0.75)


def test_auroc_matches_brute_force():
    rng = np.random.default_rng(0)
    p = rng.integers(0, 5, 40).astype(float)  # many ties
    q = rng.integers(1, 7, 30).astype(float)
    brute = np.mean((q[:, None] > p[None]) + 0.5 * (q[:, None] == p[None]))
    assert auroc(p, q) == pytest.approx(brute, abs=1e-12)


@pytest.mark.parametrize(
    "p, q, match",
    [
        ([], [], "empty"),
        ([[1.0, 2.0]], [[1.0, 3.0]], r"reduce per-frame surprise"),
        ([1.0, np.nan], [2.0, 3.0], "NaN"),
    ],
)
def test_voe_bad_input(p, q, match):
    with pytest.raises(ValueError, match=match):
        voe_scores(p, q)


def test_pairwise_needs_matched_pairs():
    with pytest.raises(ValueError, match="equal lengths"):
        pairwise_accuracy([1.0, 2.0], [1.0])
    assert auroc([1.0, 2.0], [3.0]) == 1.0  # AUROC does not need pairs
