"""Sample a world into video files, in fixed-size chunks so memory stays bounded and large batches show progress.

Clip i of seed s is the same whatever the batch size: chunk c samples with `key` (c = 0) or `fold_in(key, c)`,
always at the full chunk size (one compiled shape), and jax.random.split gives the same first keys for any count.
So `--batch 1` is `world.sample(jax.random.key(seed), 1)`, and `--batch 10` starts with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import jax
import numpy as np

from worldsim.io import VIDEO_SUFFIXES, prepare_output, write_video
from worldsim.io.tqdm_bar import tqdm
from worldsim.worlds import Episode, World

CHUNK = 64  # clips per sampling call: 64 clips of 32 x 64 x 64 x 3 uint8 frames are 25 MB


def sample_chunks(world: World, seed: int, batch: int, chunk: int = CHUNK) -> Iterator[Episode]:
    """Episodes covering clips 0 .. batch-1 in order, at most `chunk` per episode."""
    key = jax.random.key(seed)
    size = min(chunk, batch)
    for c, start in enumerate(range(0, batch, size)):
        ep = world.sample(key if c == 0 else jax.random.fold_in(key, c), size)
        yield ep[: min(size, batch - start)]


def clip_paths(out, batch: int) -> list[Path]:
    """`out` itself for one clip, else out_000.mp4, out_001.mp4, ... beside it."""
    out = Path(out)
    if batch == 1:
        return [out]
    width = max(3, len(str(batch - 1)))
    return [out.with_name(f"{out.stem}_{i:0{width}d}{out.suffix}") for i in range(batch)]


def write_samples(world: World, seed: int, batch: int, out, fps: float = 10) -> list[tuple[Path, str]]:
    """Sample `batch` clips and write each to a video file (format from `out`'s extension); returns (path, caption)."""
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch={batch!r}: use an integer >= 1")
    out = prepare_output(out, VIDEO_SUFFIXES)  # fail on a bad path before spending time on sampling
    paths = clip_paths(out, batch)
    written = []
    with tqdm(total=batch, unit="clip", desc=f"sampling {world.name}", disable=batch <= CHUNK) as bar:
        for ep in sample_chunks(world, seed, batch):
            frames = np.asarray(ep.frames)  # (b, T, H, W, 3)
            for clip, caption in zip(frames, ep.captions):
                path = paths[len(written)]
                write_video(path, clip, fps=fps)
                written.append((path, caption))
            bar.update(len(frames))
    return written
