"""Physics probes. The tracker is here now; the measures of EVAL.md build on it."""

from worldsim.probes.tracker import Tracks, floor_error, objects, track

__all__ = ["track", "objects", "floor_error", "Tracks"]
