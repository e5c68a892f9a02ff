"""A folder of the user's own videos as training clips.

Layout: `clip.mp4` or `clip.gif`, with optional sidecars beside it:
  clip.txt          a caption (UTF-8 text)
  clip.actions.npy  float32 (T, A): the action taken between frame t and t+1 (same length as the video)
Every video is read once, resized to resolution x resolution, and kept in memory; batches are random windows of
`num_frames` consecutive frames, chosen deterministically from (seed, index) like the world mixture.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from worldsim.io.video import read_video, resize_video

SUFFIXES = (".mp4", ".gif")


@dataclass
class Clip:
    frames: np.ndarray  # (T, H, W, 3) uint8
    caption: str | None
    actions: np.ndarray | None  # (T, A) float32
    path: Path


class VideoFolder:
    def __init__(self, folder, resolution: int, num_frames: int):
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"video folder {folder} does not exist: pass a folder of .mp4 / .gif files")
        paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES)
        if not paths:
            raise ValueError(f"no .mp4 or .gif files in {folder}: add videos (sidecars: NAME.txt, NAME.actions.npy)")
        self.resolution, self.num_frames = resolution, num_frames
        self.clips, short = [], []
        self.sizes: dict[tuple[int, int], int] = {}  # the videos' own (H, W) sizes before resizing, and how many
        for p in paths:
            frames = read_video(p)
            size = tuple(int(x) for x in frames.shape[1:3])
            self.sizes[size] = self.sizes.get(size, 0) + 1
            frames = resize_video(frames, resolution)
            if len(frames) < num_frames:
                short.append(f"{p.name} ({len(frames)} frames)")
                continue
            self.clips.append(Clip(frames, _caption(p), _actions(p, len(frames)), p))
        if not self.clips:
            raise ValueError(
                f"every video in {folder} is shorter than {num_frames} frames: {', '.join(short)}; "
                "use longer videos or fewer frames per clip"
            )
        dims = {c.actions.shape[1] for c in self.clips if c.actions is not None}
        if len(dims) > 1:
            raise ValueError(f"action sidecars in {folder} disagree on the action size: {sorted(dims)}")
        self.action_dim = dims.pop() if dims else 0
        self.skipped = short

    def __len__(self) -> int:
        return len(self.clips)

    def describe(self) -> str:
        """One line for the user: how many videos, their sizes against the model's, and what was skipped."""
        frames = sum(len(c.frames) for c in self.clips)
        own = ", ".join(f"{w}x{h}" for h, w in sorted(self.sizes))
        res = self.resolution
        line = f"{len(self.clips)} videos ({frames} frames, {own})"
        if any(size != (res, res) for size in self.sizes):
            line += f" resized to the model's {res}x{res}"
        if self.skipped:
            line += f"; skipped, shorter than {self.num_frames} frames: {', '.join(self.skipped)}"
        return line

    def batch(self, index: int, batch_size: int, seed: int = 0) -> dict:
        """{'frames' uint8 (B,T,H,W,3), 'actions' float32 (B,T,A), 'captions' list[str | None]} for batch `index`."""
        rng = np.random.default_rng([seed, index])
        frames, actions, captions = [], [], []
        for _ in range(batch_size):
            clip = self.clips[rng.integers(len(self.clips))]
            start = int(rng.integers(len(clip.frames) - self.num_frames + 1))
            window = slice(start, start + self.num_frames)
            frames.append(clip.frames[window])
            a = clip.actions[window] if clip.actions is not None else np.zeros((self.num_frames, self.action_dim))
            actions.append(a.astype(np.float32))
            captions.append(clip.caption)
        return {"frames": np.stack(frames), "actions": np.stack(actions), "captions": captions}


def _caption(video: Path) -> str | None:
    side = video.with_suffix(".txt")
    if not side.exists():
        return None
    try:
        text = side.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:
        raise ValueError(f"caption {side} is not valid UTF-8 text: re-save it as UTF-8") from None
    return text or None


def _actions(video: Path, length: int) -> np.ndarray | None:
    side = video.with_name(video.stem + ".actions.npy")
    if not side.exists():
        return None
    a = np.load(side)
    if a.ndim != 2 or a.shape[0] != length:
        raise ValueError(f"{side} has shape {a.shape}: expected ({length}, A), one action per frame of {video.name}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{side} contains NaN or inf: actions must be finite")
    return a.astype(np.float32)
