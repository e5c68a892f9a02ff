"""Training logs: JSONL lines, TensorBoard scalars, sample videos, and a tqdm progress bar with ETA."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from worldsim.io.tqdm_bar import tqdm


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
            self._tb.add_scalar(k, float(v), step)
        self._bar.set_postfix({k: f"{float(v):.4g}" for k, v in list(metrics.items())[:4]})

    def advance(self, n: int = 1) -> None:
        self._bar.update(n)

    def video(self, step: int, name: str, frames) -> Path:
        """Write a uint8 (T, H, W, 3) clip under workdir/videos."""
        from worldsim.io import write_video

        path = self.workdir / "videos" / f"{name}_{step:07d}.mp4"
        write_video(path, frames, fps=10)
        return path

    def close(self) -> None:
        self._bar.close()
        self._tb.close()
        self._jsonl.close()


class NullLogger:
    """TrainLogger's interface, writing nothing: for every process but 0 in a multi-process run."""

    def scalars(self, step: int, metrics: dict[str, float]) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def video(self, step: int, name: str, frames) -> None:
        pass

    def close(self) -> None:
        pass
