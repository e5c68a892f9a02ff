"""Score one predicted clip batch against its episode: the scalar measures plus the curves the report plots.

    s = score_clips(pred, episode, c)    # {'measures': {name: float}, 'curves': {name: (H,)}, 'track': (T, K, 2)}

curves (over the H generated frames, means over clips): ade (world units), energy_ratio E_hat / E0 and
momentum_err (see laws.conservation_series: NaN where nothing is measured, e.g. after a wall contact).
track: the tracked centres of clip 0 (world units, NaN where the colour is not found) for trajectory plots.
"""

from __future__ import annotations

import numpy as np

from worldsim.probes.align import align, masked_mean
from worldsim.probes.laws import conservation_series
from worldsim.probes.measures import physics_measures
from worldsim.probes.pixels import pixel_measures


def score_clips(pred, episode, c: int, *, physics: bool = True, pixels: bool = True, law_min_frames: int = 10) -> dict:
    """Measures of predicted clips uint8 (B, T, H, W, 3) (frames [0, c) given) against episode.frames / .states."""
    truth = np.asarray(episode.frames)
    out = {"measures": {}, "curves": {}, "per_clip": {}, "track": None}
    if physics:
        a = align(pred, truth, episode.states, c, episode.dt)
        m = physics_measures(a, law_min_frames)
        out["curves"]["ade"] = m.pop("ade_curve")
        out["per_clip"]["horizon"] = m.pop("horizon_per_clip")
        s = conservation_series(a)
        gen = slice(c - 1, None)  # pair (t-1, t) sits at index t-1: the generated pairs start at c-1
        out["curves"]["energy_ratio"] = masked_mean(s["energy_ratio"][:, gen], s["energy_ok"][:, gen], axis=0)
        out["curves"]["momentum_err"] = masked_mean(s["momentum_err"][:, gen], s["momentum_ok"][:, gen], axis=0)
        out["track"] = a.pos_hat[0]
        out["measures"].update(m)
    if pixels:
        out["measures"].update(pixel_measures(pred, truth, c))
    return out


def truth_track(episode) -> dict:
    """Clip 0's exact centres (T, K, 2), presence (T, K) and colour ids (K,): the reference line of the plots."""
    s = episode.states
    return {
        "pos": np.asarray(s.pos[0], np.float64),
        "present": np.asarray(s.present[0]),
        "colour": np.asarray(s.colour[0, 0]),
    }
