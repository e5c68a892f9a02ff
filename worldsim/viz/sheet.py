"""Contact sheets: one row per clip, one column per sampled frame, optionally with tracked trajectories drawn on.

The grid itself is numpy (nearest-neighbour upscaling keeps single pixels visible). Trajectories and labels are
drawn by matplotlib's Agg rasterizer on a canvas exactly the sheet's size, so lines are anti-aliased and the
frame pixels underneath come back unchanged. matplotlib is imported only when something is drawn.
"""

from __future__ import annotations

import numpy as np

from worldsim.viz.checks import positive_int, uint8_frames

GAP = 2  # pixels between cells
BACKGROUND = 40  # dark grey between cells, distinct from the worlds' black background
LABEL_HEIGHT = 14  # pixels of the caption band above each row (when labels are given)
LINE_WIDTH = 1.3  # trajectory width in output pixels
DEFAULT_COLOURS = ((1, 1, 1), (1, 0.6, 0), (0.3, 0.8, 1), (1, 0.3, 0.7), (0.6, 1, 0.3), (0.8, 0.6, 1))


def contact_sheet(frames, every: int = 4, tracks=None, labels=None, scale: int = 2, colours=None) -> np.ndarray:
    """uint8 (H', W', 3) grid of frames uint8 (N, T, H, W, 3) (or one clip (T, H, W, 3)).

    Columns show t = 0, every, 2 * every, ... < T. `tracks` (N, T, K, 2) are pixel positions (x = column,
    y = row, pixel i's centre at i, as ws.probes.track returns; NaN = absent): each cell at time t shows every
    object's path from frame 0 up to t in colours[k] ((K, 3) RGB in [0, 1]; e.g. ws.worlds.COLOURS for the
    per-colour tracks of ws.probes.track). `labels` (N strings) are written above their rows. Frames are
    upscaled `scale` times.
    """
    frames = uint8_frames(frames)
    if frames.ndim == 4:
        frames = frames[None]  # one clip -> one row
    if frames.ndim != 5:
        raise ValueError(f"frames must be (N, T, H, W, 3) or (T, H, W, 3), got shape {frames.shape}")
    n, t, h, w, _ = frames.shape
    every, scale = positive_int(every, "every"), positive_int(scale, "scale")
    times = np.arange(0, t, every)
    if tracks is not None:
        tracks = np.asarray(tracks, np.float32)
        if tracks.ndim != 4 or tracks.shape[:2] != (n, t) or tracks.shape[-1] != 2:
            raise ValueError(f"tracks must be (N, T, K, 2) = ({n}, {t}, K, 2) pixel positions, got {tracks.shape}")
    if labels is not None:
        labels = [str(s) for s in labels]
        if len(labels) != n:
            raise ValueError(f"got {len(labels)} labels for {n} clips: give one label per clip (row)")

    band = LABEL_HEIGHT if labels is not None else 0
    cell_h, cell_w = h * scale, w * scale
    row_h, col_w = band + cell_h + GAP, cell_w + GAP
    sheet = np.full((n * row_h + GAP, len(times) * col_w + GAP, 3), BACKGROUND, np.uint8)
    for i in range(n):
        for j, ti in enumerate(times):
            y0, x0 = GAP + i * row_h + band, GAP + j * col_w
            sheet[y0 : y0 + cell_h, x0 : x0 + cell_w] = frames[i, ti].repeat(scale, 0).repeat(scale, 1)
    if tracks is None and labels is None:
        return sheet

    def cell_origin(i, j):  # top-left corner (x, y) of cell (row i, column j) in sheet pixels
        return GAP + j * col_w, GAP + i * row_h + band

    return _draw(sheet, times, tracks, labels, colours, scale, cell_origin)


def _draw(sheet, times, tracks, labels, colours, scale, cell_origin) -> np.ndarray:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    hs, ws_ = sheet.shape[:2]
    dpi = 100
    fig = Figure(figsize=(ws_ / dpi, hs / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    # extent in pixel edges: data coordinate c is the left edge of sheet column c
    ax.imshow(sheet, interpolation="none", extent=(0, ws_, hs, 0))
    ax.set_xlim(0, ws_)
    ax.set_ylim(hs, 0)
    points_per_px = 72 / dpi
    if tracks is not None:
        k = tracks.shape[2]
        colours = np.asarray(DEFAULT_COLOURS if colours is None else colours, np.float32)
        if colours.ndim != 2 or colours.shape[1] != 3:
            raise ValueError(f"colours must be (K, 3) RGB in [0, 1], got shape {colours.shape}")
        colours = np.resize(colours, (k, 3))  # cycle when there are more objects than colours
        for i in range(tracks.shape[0]):
            for j, ti in enumerate(times):
                x0, y0 = cell_origin(i, j)
                path = (tracks[i, : ti + 1] + 0.5) * scale  # pixel centre i sits at (i + 0.5) * scale
                for obj in range(k):
                    # NaN positions (absent, not yet found) break the line instead of joining across the gap
                    ax.plot(x0 + path[:, obj, 0], y0 + path[:, obj, 1], color=colours[obj],
                            lw=LINE_WIDTH * points_per_px, alpha=0.9, solid_capstyle="round")
    if labels is not None:
        for i, text in enumerate(labels):
            _, y0 = cell_origin(i, 0)
            ax.text(GAP + 2, y0 - LABEL_HEIGHT / 2, text, color="white", va="center", ha="left",
                    fontsize=(LABEL_HEIGHT - 4) * points_per_px, clip_on=True)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
