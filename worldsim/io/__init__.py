"""Media files: videos (.mp4, .gif) and PNG images as uint8 (..., H, W, 3) arrays, via mediapy + bundled ffmpeg.

    ws.io.write_video("clip.mp4", episode.frames[0], fps=10)
    frames = ws.io.read_video("clip.mp4", resolution=64)   # (T, 64, 64, 3) uint8
    ws.io.write_image("sheet.png", ws.viz.contact_sheet(episode.frames))
"""

from worldsim.io.checks import prepare_output, writable_folder
from worldsim.io.image import write_image
from worldsim.io.video import VIDEO_SUFFIXES, read_video, write_video

__all__ = ["write_video", "read_video", "write_image", "prepare_output", "writable_folder", "VIDEO_SUFFIXES"]
