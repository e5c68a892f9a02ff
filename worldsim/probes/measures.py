"""All physics measures of docs/eval.md on a predicted clip, in one call (the pieces live one per file).

    m = measure(pred, ep.frames, ep.states, c=3, dt=ep.dt)   # pred: uint8 (B, T, H, W, 3), frames [0, c) given

Units: world units (box [0, 1]^2), world units / s, seconds; relative errors are fractions. See align.py for the
matching and masking conventions, motion.py / laws.py / integrity.py / pixels.py for each measure.
"""

from __future__ import annotations

from worldsim.probes.align import Aligned, align
from worldsim.probes.integrity import integrity
from worldsim.probes.laws import conservation, law_fit
from worldsim.probes.motion import position_error, velocity_error
from worldsim.probes.pixels import pixel_measures

# Scalar measures where lower is better (normalised_score applies to these); the rest are counts, rates to
# maximise (count_acc, colour_acc, horizon, coverage) or diagnostics.
ERRORS = (
    "vel_err", "vel_err_post", "vel_err_pre", "ade", "fde", "law_err", "momentum_err", "energy_err",
    "swap_rate", "jump_rate", "radius_err", "radius_drift", "mse",
)


def physics_measures(a: Aligned, law_min_frames: int = 10) -> dict:
    """The tracked measures (velocity, position, law fit, conservation, integrity) of an already aligned clip."""
    return {**velocity_error(a), **position_error(a), **law_fit(a, law_min_frames), **conservation(a), **integrity(a)}


def measure(pred, truth, states, c: int, dt: float, *, law_min_frames: int = 10, pixels: bool = True) -> dict:
    """Every docs/eval.md measure of predicted clips against the truth: velocity, position, law fit, conservation,
    integrity and (if pixels) pixel measures, as one flat dict of floats (plus the arrays ade_curve (H,) and
    horizon_per_clip (B,)). law_* are NaN without gravity; any mean with nothing to average over is NaN."""
    out = physics_measures(align(pred, truth, states, c, dt), law_min_frames)
    if pixels:
        out.update(pixel_measures(pred, truth, c))
    return out
