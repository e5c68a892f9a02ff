"""Media as bytes (worldsim.io.memory): what the play server decodes from uploads and encodes for downloads."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from worldsim.io.memory import MAX_PIXELS, MediaError, decode_media, encode_video


def clip(t=5, h=48, w=64, seed=0) -> np.ndarray:
    """Frames with large flat blocks (codecs keep those), different per frame."""
    rng = np.random.default_rng(seed)
    blocks = (rng.random((t, h // 16, w // 16, 3)) * 255).astype(np.uint8)
    return blocks.repeat(16, 1).repeat(16, 2)


def png_header(w: int, h: int) -> bytes:
    """A PNG that only declares its size (no pixel data): enough for a size check, nothing to decode."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("fmt", ["mp4", "gif"])
def test_round_trip_centre_crops_to_a_square(fmt):
    frames = clip()
    data = encode_video(frames, fmt, fps=10)
    assert data[4:8] == b"ftyp" if fmt == "mp4" else data[:6] == b"GIF89a"
    back = decode_media(data, resolution=48, max_frames=10)
    assert back.shape == (5, 48, 48, 3) and back.dtype == np.uint8
    want = frames[:, :, 8:56]  # the centred 48 x 48 square of the 48 x 64 frames
    assert np.abs(back.astype(int) - want.astype(int)).mean() < (8 if fmt == "mp4" else 3)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_images_become_one_frame(fmt):
    img = clip(1, 64, 64)[0]
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format=fmt, quality=95)
    out = decode_media(buf.getvalue(), resolution=32, max_frames=4)
    assert out.shape == (1, 32, 32, 3)
    assert np.abs(out[0].astype(int) - img[::2, ::2].astype(int)).mean() < 10


def test_refusals_name_the_limit_or_the_fix():
    with pytest.raises(MediaError, match="has 7 frames; uploads are limited to 6"):
        decode_media(encode_video(clip(7), "gif"), 16, max_frames=6)
    with pytest.raises(MediaError, match="more than 6 frames; uploads are limited to 6"):
        decode_media(encode_video(clip(7), "mp4"), 16, max_frames=6)
    with pytest.raises(MediaError, match="empty"):
        decode_media(b"", 16, 4)
    with pytest.raises(MediaError, match="not an image or video"):
        decode_media(b"#!/bin/sh\nrm -rf /\n", 16, 4)
    with pytest.raises(MediaError, match="could not read this video"):
        decode_media(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, 16, 4)
    with pytest.raises(MediaError, match="could not decode this image"):
        decode_media(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, 16, 4)
    side = int(MAX_PIXELS**0.5) + 1
    with pytest.raises(MediaError, match="at most"):
        decode_media(png_header(side, side), 16, 4)  # refused from its header, before any pixel is decoded
    with pytest.raises(TypeError, match="bytes"):
        decode_media("a string", 16, 4)
    with pytest.raises(ValueError, match="'mp4' or 'gif'"):
        encode_video(clip(2), "avi")


def test_odd_sized_frames_encode_to_mp4():
    frames = np.pad(clip(3, 32, 48), ((0, 0), (0, 1), (0, 1), (0, 0)))[:, :, :47]  # 33 x 47
    assert frames.shape == (3, 33, 47, 3)
    data = encode_video(frames, "mp4", fps=5)
    assert decode_media(data, 16, 10).shape == (3, 16, 16, 3)
