"""The shipped default tokenizer meets the quality bar on held-out clips (a small sample of the full evaluation)."""

import pytest

from worldsim.probes.tokenizer_quality import evaluate
from worldsim.tokenizer.load import load


@pytest.fixture(scope="module")
def report():
    return evaluate(load("default"), clips=4, frames=8)


@pytest.mark.parametrize("world", ["bouncing_balls", "gravity", "push"])
def test_default_tokenizer_keeps_pixels_and_physics(report, world):
    m = report[world]
    assert m["psnr_db"] >= 35.0
    assert m["track_err_px"] <= 0.3
    assert m["count_preserved"] == 1.0


def test_default_tokenizer_shape():
    tok = load("default")
    assert tok.config.resolution == 64 and tok.config.tokens_per_frame <= 64
