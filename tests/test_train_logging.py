"""Training logs: TensorBoard tags grouped under train/, val/ and perf/, sample clips as images (a frame grid and an
animated GIF), metrics.jsonl keeping the plain names."""

import json

import numpy as np
from tbtools import read_events

from worldsim.train.logging import TrainLogger, frame_grid, tb_tag


def test_tags_are_grouped():
    assert [tb_tag(k) for k in ("loss", "lr", "val_next_mse", "steps_per_s", "frames_per_s", "custom/x")] == \
        ["train/loss", "train/lr", "val/next_mse", "perf/steps_per_s", "perf/frames_per_s", "custom/x"]


def test_logger_writes_grouped_scalars_and_sample_images(tmp_path):
    log = TrainLogger(tmp_path, 10, quiet=True, frames_per_step=8)
    log.scalars(5, {"loss": 1.5, "lr": 1e-3, "val_next_mse": 0.25})
    clip = np.random.default_rng(0).integers(0, 256, (10, 16, 32, 3), dtype=np.uint8)
    log.video(5, "recon", clip)
    log.video(5, "sample", clip, tag="val/sample")
    log.close()
    events = read_events(tmp_path / "tb")
    assert {"train/loss", "train/lr", "val/next_mse", "perf/steps_per_s", "perf/frames_per_s"} <= set(events)
    assert events["train/loss"] == [(5, 1.5)] and events["val/next_mse"] == [(5, 0.25)]
    for tag in ("train/recon", "val/sample"):
        [(step, grid)], [(_, gif)] = events[tag], events[f"{tag}_video"]
        assert step == 5 and grid.encoded_image_string.startswith(b"\x89PNG")
        assert (grid.height, grid.width) == frame_grid(clip).shape[:2]
        assert gif.encoded_image_string.startswith(b"GIF8") and (gif.height, gif.width) == (16, 32)
    line = json.loads((tmp_path / "metrics.jsonl").read_text())
    assert {"step", "loss", "lr", "val_next_mse", "steps_per_s", "frames_per_s"} == set(line)  # names unchanged
    assert (tmp_path / "videos" / "recon_0000005.mp4").exists()


def test_frame_grid_lays_frames_in_rows():
    clip = np.zeros((10, 4, 6, 3), np.uint8)
    clip[9] = 255  # the last frame: second row, second column
    grid = frame_grid(clip, columns=8)
    gap = (grid.shape[0] - 2 * 4) // 3
    assert grid.shape == (2 * 4 + 3 * gap, 8 * 6 + 9 * gap, 3)
    row, col = 4 + 2 * gap, 6 + 2 * gap
    assert (grid[row: row + 4, col: col + 6] == 255).all() and (grid[gap: gap + 4, gap: gap + 6] == 0).all()

