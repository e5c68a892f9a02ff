"""ws.viz: contact sheet layout, trajectories drawn where the objects went, side_by_side."""

import numpy as np
import pytest

import worldsim as ws
from worldsim.viz.sheet import GAP, LABEL_HEIGHT


def _frames(n=2, t=9, h=16, w=16):
    """(n, t, h, w, 3) uint8 whose every frame has its own flat value, so cells can be identified."""
    values = (np.arange(n * t).reshape(n, t) * 5 + 10).astype(np.uint8)
    return np.broadcast_to(values[:, :, None, None, None], (n, t, h, w, 3)).copy()


def test_layout_rows_are_clips_columns_are_sampled_frames():
    frames = _frames()
    sheet = ws.viz.contact_sheet(frames, every=4, scale=2)  # columns t = 0, 4, 8
    assert sheet.dtype == np.uint8
    assert sheet.shape == (2 * (32 + GAP) + GAP, 3 * (32 + GAP) + GAP, 3)
    for i in range(2):
        for j, t in enumerate((0, 4, 8)):
            y0, x0 = GAP + i * (32 + GAP), GAP + j * (32 + GAP)
            assert np.all(sheet[y0 : y0 + 32, x0 : x0 + 32] == frames[i, t, 0, 0])
    assert ws.viz.contact_sheet(frames[0], every=4, scale=2).shape[0] == 32 + 2 * GAP  # one clip -> one row


def test_labels_add_a_band_per_row_and_write_text():
    frames = _frames()
    plain = ws.viz.contact_sheet(frames, every=4)
    labelled = ws.viz.contact_sheet(frames, every=4, labels=["first clip", "second clip"])
    assert labelled.shape[0] == plain.shape[0] + 2 * LABEL_HEIGHT
    band = labelled[GAP : GAP + LABEL_HEIGHT]
    assert band.max() > 200  # white text in the band


def test_trajectories_change_pixels_along_the_path_only():
    frames = np.zeros((1, 9, 16, 16, 3), np.uint8)
    tracks = np.full((1, 9, 2, 2), np.nan, np.float32)  # (N, T, K, 2); object 1 is never seen
    tracks[0, :, 0] = np.linspace(2, 13, 9)[:, None]  # object 0 moves along the diagonal
    plain = ws.viz.contact_sheet(frames, every=4, scale=2)
    drawn = ws.viz.contact_sheet(frames, every=4, scale=2, tracks=tracks, colours=[(1, 0, 0), (0, 1, 0)])
    assert drawn.shape == plain.shape
    changed = np.any(drawn != plain, axis=-1)
    cells = [changed[GAP : GAP + 32, GAP + j * 34 : GAP + j * 34 + 32] for j in range(3)]
    assert cells[1].sum() > 0 and cells[2].sum() > cells[1].sum()  # the path grows with time
    ys, xs = np.nonzero(cells[2])
    assert np.all(np.abs(ys - xs) <= 3)  # on the diagonal, nowhere else
    line = drawn[changed]  # (P, 3) over the black frames
    assert line[:, 0].max() > 200 and line[:, 1:].max() == 0  # in object 0's red; absent object 1 draws nothing


def test_absent_tracks_leave_the_frames_untouched():
    frames = _frames()
    tracks = np.full((2, 9, 3, 2), np.nan, np.float32)
    assert np.array_equal(ws.viz.contact_sheet(frames, tracks=tracks), ws.viz.contact_sheet(frames))


def test_tracker_output_draws_on_rendered_clips():
    # Synthetic 'rendered' clip: a red square moving right; the tracker finds it and the sheet draws its path.
    frames = np.zeros((1, 8, 24, 24, 3), np.uint8)
    for t in range(8):
        frames[0, t, 10:14, 2 + 2 * t : 6 + 2 * t] = (255, 0, 0)
    tracks = np.asarray(ws.probes.track(frames).pos)  # (1, 8, C, 2)
    sheet = ws.viz.contact_sheet(frames, every=7, tracks=tracks, colours=ws.worlds.COLOURS)
    assert not np.array_equal(sheet, ws.viz.contact_sheet(frames, every=7))


def test_contact_sheet_bad_input():
    frames = _frames()
    with pytest.raises(ValueError, match="uint8"):
        ws.viz.contact_sheet(frames / 255.0)
    with pytest.raises(ValueError, match=r"\(N, T, H, W, 3\)"):
        ws.viz.contact_sheet(frames[None])
    with pytest.raises(ValueError, match=r"tracks must be \(N, T, K, 2\)"):
        ws.viz.contact_sheet(frames, tracks=np.zeros((2, 8, 1, 2)))
    with pytest.raises(ValueError, match="one label per clip"):
        ws.viz.contact_sheet(frames, labels=["only one"])
    with pytest.raises(ValueError, match="every"):
        ws.viz.contact_sheet(frames, every=0)


def test_side_by_side():
    a, b = _frames(1, 4, 8, 6)[0], _frames(1, 4, 8, 10)[0]  # (T, H, W, 3), widths differ
    both = ws.viz.side_by_side(a, b, gap=2)
    assert both.shape == (4, 8, 6 + 2 + 10, 3)
    assert np.array_equal(both[:, :, :6], a) and np.array_equal(both[:, :, 8:], b)
    assert np.all(both[:, :, 6:8] == 255)
    with pytest.raises(ValueError, match="all axes except the width"):
        ws.viz.side_by_side(a, b[:3])


def test_grid_tiles_rows_and_pads_the_last_one():
    clips = list(_frames(3, 2, 4, 5))  # three (T, H, W, 3) clips, each its own values
    g = ws.viz.grid(clips, columns=2, gap=1)
    assert g.shape == (2, 4 + 1 + 4, 5 + 1 + 5, 3)
    assert np.array_equal(g[:, :4, :5], clips[0]) and np.array_equal(g[:, :4, 6:], clips[1])
    assert np.array_equal(g[:, 5:, :5], clips[2]) and np.all(g[:, 5:, 6:] == 0)  # the blank filler
    assert np.all(g[:, 4] == 255) and np.all(g[:, :, 5] == 255)  # white separators
    with pytest.raises(ValueError, match="one shape"):
        ws.viz.grid([clips[0], clips[0][:1]], columns=2)
    with pytest.raises(ValueError, match="columns"):
        ws.viz.grid(clips, columns=0)


def test_upscale_repeats_pixels():
    a = _frames(1, 2, 3, 4)[0]
    big = ws.viz.upscale(a, 3)
    assert big.shape == (2, 9, 12, 3) and np.array_equal(big[:, ::3, ::3], a) and np.array_equal(big[:, 2::3, 1::3], a)
    with pytest.raises(ValueError, match="factor"):
        ws.viz.upscale(a, 0)
