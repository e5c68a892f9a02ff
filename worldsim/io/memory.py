"""Media as bytes <-> uint8 frames, without touching the file system: uploads are decoded and downloads encoded in
memory (Pillow for images and GIFs; the bundled ffmpeg for other video, reading and writing an anonymous in-memory
file, never a path anyone else chose).

    frames = decode_media(data, resolution=64, max_frames=64)   # (T, 64, 64, 3) uint8, centre-cropped square
    data = encode_video(frames, "mp4", fps=20)
"""

from __future__ import annotations

import io as _io
import os
import subprocess
import tempfile
from contextlib import contextmanager

import numpy as np

from worldsim.io.checks import as_uint8

MAX_PIXELS = 4096 * 4096  # larger images are refused before decoding (decompression bombs)
FFMPEG_TIMEOUT_S = 20.0


class MediaError(ValueError):
    """Bytes that cannot be used as frames; the message says why and what to send instead."""


def _kind(data: bytes) -> str:
    if data[:8] == b"\x89PNG\r\n\x1a\n" or data[:3] == b"\xff\xd8\xff" or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        return "image"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[4:8] == b"ftyp" or data[:4] == b"\x1a\x45\xdf\xa3" or data[:4] == b"OggS" or data[:4] == b"RIFF":
        return "video"
    return "unknown"


def _square(img, resolution: int):
    """Centre-crop a PIL image to a square and resize it to resolution x resolution RGB."""
    from PIL import Image

    w, h = img.size
    s = min(w, h)
    box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
    return img.convert("RGB").resize((resolution, resolution), Image.Resampling.BOX, box=box)


def _too_long(count: str, max_frames: int) -> MediaError:
    return MediaError(f"this clip has {count} frames; uploads are limited to {max_frames}: trim it (or upload one "
                      "image)")


def _decode_pillow(data: bytes, resolution: int, max_frames: int) -> np.ndarray:
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        img = Image.open(_io.BytesIO(data))
        if img.size[0] * img.size[1] > MAX_PIXELS:
            raise MediaError(f"the image is {img.size[0]}x{img.size[1]}: send one of at most {MAX_PIXELS} pixels")
        n = getattr(img, "n_frames", 1)
        if n > max_frames:
            raise _too_long(str(n), max_frames)
        frames = [np.asarray(_square(f, resolution)) for f in ImageSequence.Iterator(img)]
    except MediaError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise MediaError(f"could not decode this image ({type(e).__name__}): send a PNG, JPEG, WebP or GIF") from None
    return np.stack(frames).astype(np.uint8)


@contextmanager
def _anonymous_file(data: bytes = b""):
    """A file descriptor of an in-memory file (memfd on Linux; an unnamed temporary file elsewhere)."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("worldsim-media")
    else:
        f = tempfile.TemporaryFile()
        fd = os.dup(f.fileno())
        f.close()
    try:
        if data:
            os.write(fd, data)
            os.lseek(fd, 0, os.SEEK_SET)
        yield fd
    finally:
        os.close(fd)


def _ffmpeg() -> str:
    from worldsim.io.ffmpeg import mediapy

    mediapy()  # checks the bundled binary once, with a clear error when it is missing
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _run(args: list[str], fd: int, stdin: bytes | None = None, verb: str = "read") -> bytes:
    try:
        done = subprocess.run([_ffmpeg(), "-nostdin" if stdin is None else "-y", "-v", "error", "-threads", "1",
                               *args], input=stdin, capture_output=True, pass_fds=(fd,), timeout=FFMPEG_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise MediaError(f"ffmpeg took over {FFMPEG_TIMEOUT_S:g} s to {verb} this video: use a shorter or smaller "
                         "clip") from None
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise MediaError(f"ffmpeg could not {verb} this video ({why[-1][:200] if why else 'no message'})"
                         + (": send an mp4, webm or gif" if verb == "read" else ""))
    return done.stdout


def _decode_ffmpeg(data: bytes, resolution: int, max_frames: int) -> np.ndarray:
    r = resolution
    with _anonymous_file(data) as fd:
        raw = _run(["-max_pixels", str(MAX_PIXELS), "-i", f"/dev/fd/{fd}", "-frames:v", str(max_frames + 1), "-an",
                    "-vf", f"crop='min(iw,ih)':'min(iw,ih)',scale={r}:{r}:flags=area",
                    "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"], fd)
    n = len(raw) // (r * r * 3)
    if n == 0:
        raise MediaError("this video has no frames: send a clip with at least one frame")
    if n > max_frames:
        raise _too_long(f"more than {max_frames}", max_frames)
    return np.frombuffer(raw[: n * r * r * 3], np.uint8).reshape(n, r, r, 3).copy()


def decode_media(data: bytes, resolution: int, max_frames: int) -> np.ndarray:
    """An image (PNG, JPEG, WebP), GIF or video (mp4, webm, ...) as bytes -> uint8 (T, resolution, resolution, 3),
    centre-cropped to a square. More than max_frames frames, or bytes that are no media, raise MediaError."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"decode_media takes bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise MediaError("the upload is empty: choose an image or a short video")
    kind = _kind(data)
    try:
        if kind in ("image", "gif"):
            return _decode_pillow(data, resolution, max_frames)
        if kind == "video":
            return _decode_ffmpeg(data, resolution, max_frames)
    except MediaError:
        raise
    except Exception as e:  # a decoder's own failure on hostile or broken bytes: still the sender's problem
        raise MediaError(f"could not decode this {kind} ({type(e).__name__}): send a PNG, JPEG, WebP, GIF, mp4 or "
                         "webm") from None
    raise MediaError("this is not an image or video this server reads: send a PNG, JPEG, WebP, GIF, mp4 or webm")


def encode_video(frames, fmt: str, fps: float = 20.0, scale: int = 1) -> bytes:
    """uint8 (T, H, W, 3) (or a list of (H, W, 3)) -> the bytes of an .mp4 (H.264) or .gif file, each frame
    enlarged `scale` times (nearest neighbour, done by the encoder: no enlarged copy of the clip is held)."""
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale={scale!r}: use an integer >= 1")
    frames = as_uint8(np.stack(frames) if isinstance(frames, list) else frames, rank=4, what="frames")
    if fmt == "gif":
        from PIL import Image

        t, h, w, _ = frames.shape
        images = (Image.fromarray(f).resize((w * scale, h * scale), Image.Resampling.NEAREST) for f in frames)
        buf = _io.BytesIO()
        next(images).save(buf, format="GIF", save_all=True, append_images=images, loop=0,
                          duration=max(20, round(1000 / fps)))
        return buf.getvalue()
    if fmt != "mp4":
        raise ValueError(f"fmt={fmt!r}: use 'mp4' or 'gif'")
    t, h, w, _ = frames.shape
    if h % 2 or w % 2:  # yuv420p needs even sides
        frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)))
        t, h, w, _ = frames.shape
    with _anonymous_file() as fd:
        _run(["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", f"{fps:g}", "-i", "pipe:0",
              "-vf", f"scale={w * scale}:{h * scale}:flags=neighbor", "-c:v", "libx264", "-pix_fmt", "yuv420p",
              "-f", "mp4", f"/dev/fd/{fd}"], fd, stdin=frames.tobytes(), verb="write")
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    return b"".join(chunks)
