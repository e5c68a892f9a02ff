"""Exact contact masks from ground-truth states: when did a ball (or the whole system) leave free flight?

Between contacts every ball moves on a parabola, so its velocity changes by exactly g * dt per frame. A larger
change during (t-1, t] means the ball hit a wall or another ball (or, in the push world, was pushed or slowed by
friction: every frame there counts). The exact states make these masks exact: float32 free flight deviates by
~1e-7 world units / s, a contact by far more than CONTACT_TOL.
"""

from __future__ import annotations

import numpy as np

CONTACT_TOL = 1e-3  # world units / s: a velocity change this far from g * dt is a contact


def _free_flight_residual(states, dt: float) -> np.ndarray:
    """(..., T-1, K, 2) v_t - v_{t-1} - g dt for t = 1 .. T-1."""
    v = np.asarray(states.vel, np.float64)  # (..., T, K, 2)
    g = np.asarray(states.gravity, np.float64)[..., 1:, None, :]  # (..., T-1, 1, 2)
    return v[..., 1:, :, :] - v[..., :-1, :, :] - g * dt


def _pad_first(x: np.ndarray, axis: int) -> np.ndarray:
    """Prepend a False slice along `axis` (frame 0 has no interval before it)."""
    pad = [(0, 0)] * x.ndim
    pad[axis] = (1, 0)
    return np.pad(x, pad, constant_values=False)


def contacts(states, dt: float, tol: float = CONTACT_TOL) -> np.ndarray:
    """(..., T, K) bool: ball k's velocity left free flight during (t-1, t] (a wall or ball contact); t = 0 False.

    states: BallState with leaves (..., T, K, ...), velocities in world units / s; dt: seconds between frames.
    """
    present = np.asarray(states.present)
    jump = np.linalg.norm(_free_flight_residual(states, dt), axis=-1) > tol  # (..., T-1, K)
    return _pad_first(jump & present[..., 1:, :] & present[..., :-1, :], axis=-2)


def momentum_kicks(states, dt: float, tol: float = CONTACT_TOL) -> np.ndarray:
    """(..., T) bool: the total momentum left free flight during (t-1, t]: a wall contact (or a push).

    Ball-ball impulses cancel in the sum, so this marks exactly the frames after which momentum conservation
    no longer holds. tol is per unit mass (world units / s).
    """
    present = np.asarray(states.present)
    live = present[..., 1:, :] & present[..., :-1, :]  # (..., T-1, K)
    mass = np.asarray(states.mass, np.float64)[..., 1:, :]
    dp = np.sum(np.where(live[..., None], mass[..., None] * _free_flight_residual(states, dt), 0.0), axis=-2)
    total = np.maximum(np.sum(np.where(live, mass, 0.0), axis=-1), 1e-12)  # (..., T-1)
    kick = np.linalg.norm(dp, axis=-1) / total > tol
    return _pad_first(kick | np.any(present[..., 1:, :] != present[..., :-1, :], axis=-1), axis=-1)


def since(events: np.ndarray, c: int, axis: int) -> np.ndarray:
    """Same shape bool: an event happened in any interval (s-1, s] with c <= s <= t; False for t < c.

    With `events` from `contacts` (axis -2) this is the post-collision mask of the generated frames: contacts
    during the conditioning frames are seen by the model and do not count.
    """
    events = np.moveaxis(np.asarray(events, bool), axis, 0).copy()
    events[:c] = False
    return np.moveaxis(np.logical_or.accumulate(events, axis=0), 0, axis)
