"""The Predictor protocol: what the evaluation harness needs from a world model, and nothing more.

A predictor continues clips: given k conditioning frames (and actions, captions) it generates the next frames.
Optional capabilities, checked with hasattr, unlock more measures (docs/eval.md 7-9):

    first_frames(captions, key) -> uint8 (B, H, W, 3)      text -> first frame          (text-conditioning accuracy)
    surprise(frames, actions, key) -> float (B, T)          per-frame prediction error   (violation of expectation)
    latents(frames) -> (B, T, ...)                          per-frame features           (latent linear probes)

`from_model(spec)` ("default" or a checkpoint path) loads the world model and wraps it in a ModelPredictor
(model_predictor.py); `register_adapter(fn)` with fn(spec) -> Predictor replaces that (tests, other models). The baselines are predictors too
(baseline_predictors.py), so every column of a report runs through the same code.
"""

from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Predictor(Protocol):
    name: str  # a short label for report columns
    resolution: int  # frames in and out are resolution x resolution

    def continue_frames(self, frames, actions, captions, num_frames: int, key) -> np.ndarray:
        """frames uint8 (B, k, H, W, 3); actions float32 (B, k + num_frames, A) or None (passive worlds; actions[:, t]
        acts between frames t and t+1); captions list of B str or None; key a jax PRNG key.
        Returns uint8 (B, num_frames, H, W, 3): the frames after the k given ones."""
        ...


_ADAPTER: list[Callable] = []  # at most one: fn(spec) -> Predictor


def register_adapter(fn: Callable | None) -> None:
    """Make `from_model(spec)` return fn(spec); None unregisters (tests)."""
    if fn is not None and not callable(fn):
        raise ValueError(f"the adapter must be a callable spec -> Predictor, got {type(fn).__name__}")
    _ADAPTER[:] = [] if fn is None else [fn]


def from_model(spec: str) -> Predictor:
    """The Predictor for a trained model: "default" (the shipped one) or a checkpoint path (see ws.load)."""
    if _ADAPTER:
        return check_predictor(_ADAPTER[0](spec))
    from worldsim.probes.model_predictor import ModelPredictor
    from worldsim.sim import load

    return check_predictor(ModelPredictor(load(spec)))


def resolve(spec, resolution: int = 64) -> Predictor:
    """A Predictor from a CLI-style spec: a baseline name (copy_last, constant_velocity) or a model ("default" or a
    checkpoint path, through from_model). A Predictor object is checked and returned as it is."""
    from worldsim.probes.baseline_predictors import BASELINES

    if not isinstance(spec, str):
        return as_predictor(spec)
    if spec in BASELINES:
        return BASELINES[spec](resolution=resolution)
    return from_model(spec)


def as_predictor(p) -> Predictor:
    """A Predictor from p: a world model (ws.load(...)) is wrapped in a ModelPredictor; anything else is checked."""
    from worldsim.sim import WorldModel

    if isinstance(p, WorldModel):
        from worldsim.probes.model_predictor import ModelPredictor

        return ModelPredictor(p)
    return check_predictor(p)


def check_predictor(p) -> Predictor:
    """p itself, or a ValueError naming what is missing."""
    missing = [a for a in ("name", "resolution", "continue_frames") if not hasattr(p, a)]
    if missing:
        raise ValueError(f"{type(p).__name__} is not a Predictor: it lacks {', '.join(missing)} "
                         "(see worldsim.probes.predictor.Predictor)")
    if not callable(p.continue_frames):
        raise ValueError(f"{type(p).__name__}.continue_frames must be a method (frames, actions, captions, num_frames, key)")
    if not isinstance(p.name, str) or not p.name:
        raise ValueError(f"predictor.name must be a non-empty str, got {p.name!r}")
    if isinstance(p.resolution, bool) or not isinstance(p.resolution, (int, np.integer)) or p.resolution < 1:
        raise ValueError(f"predictor.resolution must be a positive int (frames are resolution x resolution), got {p.resolution!r}")
    return p


def check_frames_out(x, shape: tuple, what: str) -> np.ndarray:
    """A predictor's uint8 output of exactly `shape`, or a ValueError that says what came back and how to fix it."""
    x = np.asarray(x)
    if x.dtype != np.uint8:
        hint = " (floats in [0, 1]: (x * 255).round().astype(np.uint8))" if np.issubdtype(x.dtype, np.floating) else ""
        raise ValueError(f"{what} must return uint8 frames, got {x.dtype}{hint}")
    if x.shape != tuple(shape):
        raise ValueError(f"{what} must return shape {tuple(shape)}, got {x.shape}")
    return x


def check_surprise(x, shape: tuple) -> np.ndarray:
    """A predictor's per-frame surprise: finite floats of `shape` (B, T)."""
    x = np.asarray(x)
    if x.shape != tuple(shape) or not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"surprise must return one number per frame, shape {tuple(shape)}, got {x.dtype}{x.shape}")
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("surprise returned NaN or inf: return finite prediction errors (e.g. clip the NLL)")
    return x
