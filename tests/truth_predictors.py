"""Test predictors with known answers: they find the ground truth of the clip they are asked to continue.

The harness draws its clips deterministically from (suite, key) with probes.suite.sample_clips, so a predictor
built from the same (suite, key) can look each clip up by its conditioning frames and return the truth itself,
the truth with a drift, or the world's own response to the actions it is given.
"""

import jax
import numpy as np

from worldsim.probes.action_following import simulate_pushes
from worldsim.probes.suite import sample_clips


class TruthLookup:
    """continue_frames returns the true continuation; with drift (world units / s) every ball also drifts from frame
    c-1 on; with simulate=True the world's continuation under the given actions (the push-world reference)."""

    def __init__(self, suite, key, drift=None, simulate=False, name="truth"):
        self.name, self.resolution, self.drift, self.simulate = name, suite.resolution, drift, simulate
        self.clips = {}
        for world_name, split in suite.world_splits():
            world, ep = sample_clips(suite, world_name, split, key)
            for b in range(ep.batch_size):
                self.clips[np.asarray(ep.frames[b, : suite.context]).tobytes()] = (world, ep[b])

    def continue_frames(self, frames, actions, captions, num_frames, key):
        out = []
        for i, f in enumerate(np.asarray(frames)):
            world, ep = self.clips[f.tobytes()]
            k = f.shape[0]
            if self.simulate:
                clip = simulate_pushes(world, ep, k, actions[i : i + 1])[0]
            elif self.drift is not None:
                t = np.clip(np.arange(ep.num_frames) - (k - 1), 0, None) * ep.dt  # seconds of drift per frame
                s = jax.tree.map(lambda x: x[0], ep.states)
                clip = np.asarray(world.render(s._replace(pos=s.pos + t[:, None, None] * np.asarray(self.drift))))
            else:
                clip = np.asarray(ep.frames[0])
            out.append(clip[k : k + num_frames])
        return np.stack(out)


def tracked_jumps(frames) -> np.ndarray:
    """(B, T) number of tracked colours that jumped more than their radius between frames t-1 and t."""
    from worldsim.probes import position_jumps, track

    return position_jumps(track(np.asarray(frames))).sum(-1).astype(np.float64)
