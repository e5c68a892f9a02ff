"""The six ball colours: pure primaries and secondaries, so a colour-threshold tracker separates them exactly."""

import numpy as np

COLOUR_NAMES = ("red", "green", "blue", "yellow", "magenta", "cyan")
COLOURS = np.array(
    [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1]], dtype=np.float32
)  # (C, 3) RGB in [0, 1]
OCCLUDER_GREY = 0.5  # the occluder bar's grey level; no ball colour is grey
BACKGROUND = 0.0  # black
