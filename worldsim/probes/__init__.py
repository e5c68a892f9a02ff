"""Physics probes (docs/eval.md): the colour-centroid tracker and the measures, baselines, latent probes and
violation-of-expectation scores built on it. Pure numpy/JAX on arrays: they score frames from any model.

    m = ws.probes.measure(pred, ep.frames, ep.states, c=3, dt=ep.dt)       # every measure, world units
    base = ws.probes.baseline_measures(world, ep, c=3)                       # oracle, copy-last, constant velocity
    report = ws.probes.evaluate(predictor, "standard")                       # the whole protocol on a Predictor
"""

from worldsim.probes.align import Aligned, align
from worldsim.probes.baseline_predictors import ConstantVelocity, CopyLast
from worldsim.probes.baselines import (
    baseline_measures,
    constant_velocity_tracked,
    constant_velocity_true,
    copy_last,
    normalised_score,
    oracle,
)
from worldsim.probes.contacts import contacts, momentum_kicks
from worldsim.probes.evaluate import evaluate
from worldsim.probes.integrity import integrity, position_jumps
from worldsim.probes.latent_probe import ProbeResult, as_rows, r2_score, ridge_probe, velocity_features
from worldsim.probes.laws import conservation, law_fit
from worldsim.probes.measures import ERRORS, measure
from worldsim.probes.motion import position_error, velocity_error
from worldsim.probes.pixels import mse, pixel_measures, psnr, ssim
from worldsim.probes.predictor import Predictor, from_model, register_adapter
from worldsim.probes.report import Report
from worldsim.probes.suite import Suite
from worldsim.probes.tracker import Tracks, floor_error, objects, track
from worldsim.probes.voe import auroc, pairwise_accuracy, voe_scores

__all__ = [
    "track", "objects", "floor_error", "Tracks",
    "align", "Aligned", "contacts", "momentum_kicks",
    "measure", "ERRORS", "velocity_error", "position_error", "law_fit", "conservation", "integrity",
    "position_jumps", "mse", "psnr", "ssim", "pixel_measures",
    "copy_last", "constant_velocity_tracked", "constant_velocity_true", "oracle", "normalised_score",
    "baseline_measures",
    "ridge_probe", "ProbeResult", "r2_score", "velocity_features", "as_rows",
    "pairwise_accuracy", "auroc", "voe_scores",
    "evaluate", "Suite", "Report", "Predictor", "CopyLast", "ConstantVelocity", "from_model", "register_adapter",
]
