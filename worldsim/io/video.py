"""Video files (.mp4, .gif) <-> uint8 (T, H, W, 3) arrays, through mediapy and the bundled ffmpeg.

mp4 is H.264: lossy, small, for viewing and for training on your own video. Frames with even height and width are
encoded as yuv420p, which every player opens; odd sizes fall back to yuv444p (mediapy's choice, since 4:2:0 chroma
needs even sizes), which round-trips here but some browsers and QuickTime refuse: render even sizes to share clips.
gif is a 256-colour palette, near lossless for the flat colours of the ball worlds.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from worldsim.io.checks import as_uint8, atomic_target, existing_file, prepare_output
from worldsim.io.ffmpeg import mediapy

VIDEO_SUFFIXES = (".mp4", ".gif")


def write_video(path, frames, fps: float = 10) -> Path:
    """Write frames uint8 (T, H, W, 3) (or float in [0, 1]) to `path` (.mp4 or .gif); returns the Path written.

    Missing parent folders are created. The file appears atomically: a failed write leaves no half-written clip.
    """
    path = prepare_output(path, VIDEO_SUFFIXES)
    frames = as_uint8(frames, rank=4, what="frames")
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not math.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps={fps!r}: use a positive number of frames per second")
    codec = "gif" if path.suffix.lower() == ".gif" else "h264"
    try:
        with atomic_target(path) as tmp:
            mediapy().write_video(tmp, frames, fps=float(fps), codec=codec)
    except RuntimeError as e:  # mediapy reports ffmpeg failures as RuntimeError with ffmpeg's stderr
        raise OSError(f"ffmpeg could not write {path}: {_last_line(e)}") from None
    return path


def read_video(path, resolution: int | None = None) -> np.ndarray:
    """Read a video file (anything ffmpeg decodes: .mp4, .gif, .webm, ...) as uint8 (T, H, W, 3).

    With `resolution`, every frame is resized (Lanczos) to resolution x resolution; a non-square video is
    stretched, so crop it first if its aspect ratio matters.
    """
    path = existing_file(path)
    if resolution is not None and (isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < 1):
        raise ValueError(f"resolution={resolution!r}: use a positive integer (frames become resolution x resolution)")
    try:
        video = np.asarray(mediapy().read_video(path))  # plain ndarray, not mediapy's subclass
    except RuntimeError as e:
        raise ValueError(
            f"cannot read {path} as a video ({_last_line(e)}): pass a video file such as .mp4 or .gif"
        ) from None
    if video.ndim != 4 or video.shape[0] == 0:
        raise ValueError(f"{path} holds no video frames: pass a video file such as .mp4 or .gif")
    return video if resolution is None else resize_video(video, resolution)


def resize_video(video: np.ndarray, resolution: int) -> np.ndarray:
    """uint8 (T, H, W, 3) -> (T, resolution, resolution, 3), Lanczos; unchanged if already that size."""
    if video.shape[1:3] == (resolution, resolution):
        return video
    return np.asarray(mediapy().resize_video(video, (int(resolution), int(resolution))))


def _last_line(error: Exception) -> str:
    """ffmpeg's stderr starts with a long banner; its last line is the actual complaint."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__
