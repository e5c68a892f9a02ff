"""mediapy, imported on first use and pointed at the ffmpeg bundled with imageio-ffmpeg.

A machine may have no system ffmpeg, and imageio-ffmpeg is pinned to 0.6.0 because the ffmpeg that 0.8.x
bundles breaks mediapy.read_video. The import is lazy because mediapy pulls in matplotlib.pyplot (~0.4 s), which
`import worldsim` should not pay for.
"""

from __future__ import annotations

import functools


@functools.cache
def mediapy():
    """The mediapy module, configured to use the bundled ffmpeg (done once per process)."""
    import imageio_ffmpeg
    import mediapy as media

    try:
        exe = imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as e:  # the wheel ships the binary; this means a broken install
        raise RuntimeError(f"no ffmpeg found ({e}): reinstall it with `pip install --force-reinstall imageio-ffmpeg==0.6.0`") from e
    media.set_ffmpeg(exe)
    return media
