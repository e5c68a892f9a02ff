"""Datasets: world mixtures and folders of the user's own videos."""

from worldsim.data.mixture import HELD_OUT_SEED, WorldMixture
from worldsim.data.video_folder import VideoFolder

__all__ = ["WorldMixture", "VideoFolder", "HELD_OUT_SEED"]
