"""Training logs: JSONL lines, TensorBoard scalars and sample frames, sample videos, and a tqdm progress bar with ETA.

TensorBoard tags are grouped: training metrics under train/ (the learning rate too), validation ones under val/
(metrics named val_*), throughput under perf/; sample clips show up as images: a grid of their frames and an
animated GIF (view them with `pip install tensorboard && tensorboard --logdir WORKDIR/tb`). metrics.jsonl keeps the
plain metric names.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from worldsim.io.progress import ticking
from worldsim.io.tqdm_bar import tqdm

PERF = ("steps_per_s", "frames_per_s")  # throughput, logged under perf/
GRID_COLUMNS = 8  # frames per row of a sample's frame grid in TensorBoard


def tb_tag(name: str) -> str:
    """The TensorBoard tag of a metric: val_x -> val/x, throughput -> perf/x, anything else -> train/x (a name
    holding a '/' is kept as it is)."""
    if "/" in name:
        return name
    if name.startswith("val_"):
        return "val/" + name[len("val_"):]
    return ("perf/" if name in PERF else "train/") + name


def frame_grid(frames, columns: int = GRID_COLUMNS):
    """uint8 (H', W', 3): a clip's frames uint8 (T, H, W, 3) in rows of `columns`, left to right, top to bottom."""
    from worldsim.viz.sheet import contact_sheet

    frames = np.asarray(frames)
    t = frames.shape[0]
    columns = min(columns, t)
    rows = -(-t // columns)
    padded = np.concatenate([frames, np.zeros((rows * columns - t,) + frames.shape[1:], np.uint8)])
    return contact_sheet(padded.reshape((rows, columns) + frames.shape[1:]), every=1, scale=1)


class TrainLogger:
    def __init__(
        self, workdir: str | Path, total_steps: int, start_step: int = 0, quiet: bool = False, frames_per_step: int = 0
    ):
        self.frames_per_step = frames_per_step
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._jsonl = open(self.workdir / "metrics.jsonl", "a")
        from tensorboardX import SummaryWriter

        self._tb = SummaryWriter(str(self.workdir / "tb"))
        self._bar = tqdm(total=total_steps, initial=start_step, disable=quiet, dynamic_ncols=True, unit="step")
        self._bar.set_postfix_str("compiling the training step (the first step waits for it)")
        self._first = True
        self._ticking = ticking(self._bar)  # the clock keeps moving through the first step's compile
        self._t0, self._last_step = time.time(), start_step

    def scalars(self, step: int, metrics: dict[str, float]) -> None:
        """Log one step's metrics everywhere; raises on a non-finite loss (fail fast)."""
        now = time.time()
        steps = max(step - self._last_step, 1)
        rate = steps / max(now - self._t0, 1e-9)
        metrics = {**metrics, "steps_per_s": rate}
        if self.frames_per_step:
            metrics["frames_per_s"] = rate * self.frames_per_step
        self._t0, self._last_step = now, step
        for k, v in metrics.items():
            if not math.isfinite(float(v)):
                raise FloatingPointError(f"non-finite {k}={v} at step {step}: lower the learning rate or check data")
        self._jsonl.write(json.dumps({"step": step, **{k: float(v) for k, v in metrics.items()}}) + "\n")
        self._jsonl.flush()
        for k, v in metrics.items():
            self._tb.add_scalar(tb_tag(k), float(v), step)
        self._bar.set_postfix({k: f"{float(v):.4g}" for k, v in list(metrics.items())[:4]})

    def advance(self, n: int = 1) -> None:
        if self._first:
            self._first = False
            self._bar.set_postfix_str("", refresh=False)
        self._bar.update(n)

    def video(self, step: int, name: str, frames, tag: str | None = None) -> Path:
        """Write a uint8 (T, H, W, 3) clip under workdir/videos, and to TensorBoard under `tag` (default
        train/NAME) as a grid of its frames, and under TAG_video as an animated GIF."""
        from worldsim.io import write_video

        path = self.workdir / "videos" / f"{name}_{step:07d}.mp4"
        write_video(path, frames, fps=10)
        tag = tag or f"train/{name}"
        self._tb.add_image(tag, frame_grid(frames), step, dataformats="HWC")
        self._tb.file_writer.add_summary(_gif_summary(f"{tag}_video", frames, fps=10), step)
        return path

    def close(self) -> None:
        self._ticking.stop()
        self._bar.close()
        self._tb.close()
        self._jsonl.close()


class NullLogger:
    """TrainLogger's interface, writing nothing: for every process but 0 in a multi-process run."""

    def scalars(self, step: int, metrics: dict[str, float]) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def video(self, step: int, name: str, frames, tag: str | None = None) -> None:
        pass

    def close(self) -> None:
        pass


def _gif_summary(tag: str, frames, fps: float):
    """A TensorBoard image summary holding an animated GIF of the clip (what SummaryWriter.add_video writes, without
    its moviepy dependency: the GIF is encoded by Pillow)."""
    from tensorboardX.proto.summary_pb2 import Summary

    from worldsim.io.memory import encode_video

    frames = np.asarray(frames)
    gif = encode_video(frames, "gif", fps=fps)
    image = Summary.Image(height=frames.shape[1], width=frames.shape[2], colorspace=3, encoded_image_string=gif)
    return Summary(value=[Summary.Value(tag=tag, image=image)])
