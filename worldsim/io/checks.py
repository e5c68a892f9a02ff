"""Validation shared by the readers and writers: pixel arrays and output paths, with errors that name the fix."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np


def as_uint8(x, rank: int, what: str) -> np.ndarray:
    """uint8 array (..., 3) of the given rank from uint8, or from float in [0, 1] (rounded, not truncated)."""
    x = np.asarray(x)  # accepts jax arrays too
    layout = {3: "(H, W, 3)", 4: "(T, H, W, 3)"}[rank]
    if x.ndim != rank or x.shape[-1] != 3:
        raise ValueError(f"{what} must be {layout} RGB, got shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"{what} is empty (shape {x.shape}): nothing to write")
    if x.dtype == np.uint8:
        return x
    if np.issubdtype(x.dtype, np.floating):
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{what} contains NaN or inf: float pixels must be finite values in [0, 1]")
        lo, hi = float(x.min()), float(x.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"float {what} must lie in [0, 1], got [{lo:.3g}, {hi:.3g}]: "
                "divide 0-255 values by 255, or clip with np.clip(x, 0, 1)"
            )
        return np.round(x * 255.0).astype(np.uint8)
    raise ValueError(
        f"{what} must be uint8 in [0, 255] or float in [0, 1], got {x.dtype}: "
        "convert 0-255 integers with np.asarray(x).astype(np.uint8)"
    )


def prepare_output(path, suffixes: tuple[str, ...]) -> Path:
    """Check the extension, create missing parent folders and make sure we can write there; returns the Path.

    Called before any expensive work, so a bad output path fails in a second, not after rendering.
    """
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix not in suffixes:
        raise ValueError(f"unsupported file extension {path.suffix or '(none)'!r} for {path}: use {' or '.join(suffixes)}")
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {path}: it is a directory; give a file name ending in {suffix}")
    writable_folder(path.parent)
    return path


def writable_folder(folder) -> Path:
    """Create `folder` (and its parents) if missing and check that files can be created in it; returns the Path."""
    folder = Path(folder).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise NotADirectoryError(
            f"cannot write into {folder}: it or a folder above it is a file, not a folder; choose another output path"
        ) from None
    except PermissionError:
        raise PermissionError(f"cannot create the folder {folder}: permission denied; choose a writable output path") from None
    # os.access is unreliable as root and on read-only mounts, so actually try to create a file there.
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        kind = PermissionError if isinstance(e, PermissionError) else OSError
        raise kind(f"cannot write into {folder} ({e.strerror or e}): choose a writable output path") from None
    return folder


def existing_file(path) -> Path:
    """The Path of an existing regular file, or FileNotFoundError / IsADirectoryError naming the path."""
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path} (check the path; relative paths start at {os.getcwd()})")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory: pass the path of a video file inside it")
    return path


@contextlib.contextmanager
def atomic_target(path: Path) -> Iterator[str]:
    """Yield a temporary file name beside `path`; on success it is renamed onto `path`, on failure removed.

    A private folder in the same directory keeps the rename atomic (readers never see a half-written file) and lets
    the writer create the file itself, so it gets the usual permissions rather than mkstemp's 0600.
    """
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.") as tmp_dir:
        tmp = os.path.join(tmp_dir, "out" + path.suffix.lower())  # the suffix tells ffmpeg / PIL the format
        yield tmp
        os.replace(tmp, path)
