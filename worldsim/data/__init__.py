"""Datasets: world mixtures, folders of the user's own videos, and clips encoded by a tokenizer (latents)."""

from worldsim.data.latents import LatentDataset, concat
from worldsim.data.mixture import HELD_OUT_SEED, WorldMixture
from worldsim.data.video_folder import VideoFolder

__all__ = ["WorldMixture", "VideoFolder", "HELD_OUT_SEED", "LatentDataset", "concat"]
