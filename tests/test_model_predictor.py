"""The trained-model adapter of the evaluation harness, on the tiny random model: what the harness relies on."""

import jax
import numpy as np
import pytest
from simtools import frames, tiny_model

from worldsim.probes.model_predictor import ModelPredictor
from worldsim.probes.predictor import check_predictor


@pytest.fixture(scope="module")
def pred():
    return check_predictor(ModelPredictor(tiny_model()))


def test_continuations_follow_the_given_frames(pred):
    given = np.stack([frames(3, seed=1), frames(3, seed=2)])  # (2, 3, 32, 32, 3)
    acts = np.zeros((2, 3 + 4, 2), np.float32)
    out = pred.continue_frames(given, acts, ["a red ball", "a blue ball"], 4, jax.random.key(0))
    assert out.shape == (2, 4, 32, 32, 3) and out.dtype == np.uint8
    again = pred.continue_frames(given, acts, ["a red ball", "a blue ball"], 4, jax.random.key(0))
    assert np.array_equal(out, again)  # the key decides the sample


def test_first_frames_surprise_and_latents(pred):
    assert pred.first_frames(["a red ball", "two balls"], jax.random.key(1)).shape == (2, 32, 32, 3)
    clip = np.stack([frames(5, seed=3), frames(5, seed=4)])
    s = pred.surprise(clip, None, jax.random.key(2))
    assert s.shape == (2, 5) and np.all(np.isfinite(s)) and np.all(s >= 0)
    hidden = pred.latents(clip)
    m = pred.model.dynamics.config
    assert hidden.shape == (2, 5, m.tokens_per_frame * m.d_model)
    z = ModelPredictor(pred.model, latents_from="tokenizer").latents(clip)
    assert z.shape == (2, 5, int(np.prod(pred.model.latent_shape)))
    with pytest.raises(ValueError, match="latents_from"):
        ModelPredictor(pred.model, latents_from="pixels")


def test_a_world_model_is_evaluated_as_a_predictor(pred):
    from worldsim.probes.predictor import as_predictor, resolve

    assert isinstance(as_predictor(pred.model), ModelPredictor) and isinstance(resolve(pred.model), ModelPredictor)
    with pytest.raises(ValueError, match="is not a Predictor"):
        as_predictor(object())
