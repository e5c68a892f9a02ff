"""Datasets: world mixtures (and, later, folders of user videos)."""

from worldsim.data.mixture import HELD_OUT_SEED, WorldMixture

__all__ = ["WorldMixture", "HELD_OUT_SEED"]
