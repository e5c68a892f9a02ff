"""ws.io: video and image files round-trip rendered clips; every bad input fails with an error naming the fix."""

import os

import jax
import mediapy
import numpy as np
import pytest

import worldsim as ws


@pytest.fixture(scope="module")
def clip():
    """(8, 32, 32, 3) uint8: a real rendered clip (anti-aliased edges are what lossy codecs find hard)."""
    world = ws.worlds.make("bouncing_balls", resolution=32, num_frames=8)
    return np.asarray(world.sample(jax.random.key(0), 1).frames[0])


def test_mp4_round_trip_keeps_frames_and_tracked_positions(clip, tmp_path):
    path = ws.io.write_video(tmp_path / "clip.mp4", clip, fps=10)
    back = ws.io.read_video(path)
    assert type(back) is np.ndarray and back.dtype == np.uint8 and back.shape == clip.shape
    assert np.abs(back.astype(int) - clip).mean() < 8  # lossy H.264: measured ~1.5 at 32 px
    # What matters downstream: the physics read off the frames survives compression.
    a, b = ws.probes.track(clip), ws.probes.track(back)
    assert np.array_equal(a.present, b.present)
    present = np.asarray(a.present)
    assert np.max(np.abs(np.asarray(a.pos) - np.asarray(b.pos))[present]) < 1.0  # px; measured <= 0.46
    assert os.listdir(tmp_path) == ["clip.mp4"]  # no temporary files left behind


def test_gif_round_trip_is_near_lossless(clip, tmp_path):
    back = ws.io.read_video(ws.io.write_video(tmp_path / "clip.gif", clip))
    assert back.shape == clip.shape
    assert np.abs(back.astype(int) - clip).mean() < 1  # a 256-colour palette holds the flat ball colours


def test_float_frames_in_unit_range_equal_their_uint8(clip, tmp_path):
    ws.io.write_video(tmp_path / "u.gif", clip)
    ws.io.write_video(tmp_path / "f.gif", clip.astype(np.float32) / 255.0)
    assert np.array_equal(ws.io.read_video(tmp_path / "u.gif"), ws.io.read_video(tmp_path / "f.gif"))


def test_read_with_resolution_resizes(clip, tmp_path):
    path = ws.io.write_video(tmp_path / "clip.mp4", clip)
    assert ws.io.read_video(path, resolution=16).shape == (8, 16, 16, 3)
    assert ws.io.read_video(path, resolution=48).shape == (8, 48, 48, 3)
    assert ws.io.read_video(path, resolution=32).shape == clip.shape


def test_odd_sizes_round_trip_as_mp4(tmp_path):
    frames = np.zeros((3, 17, 23, 3), np.uint8)
    frames[:, 4:9, 5:12] = (255, 0, 0)
    back = ws.io.read_video(ws.io.write_video(tmp_path / "odd.mp4", frames))
    assert back.shape == frames.shape and np.abs(back.astype(int) - frames).mean() < 8


def test_write_image_png_is_lossless_and_creates_folders(clip, tmp_path):
    path = ws.io.write_image(tmp_path / "new" / "deeper" / "frame.png", clip[3])
    assert np.array_equal(mediapy.read_image(path), clip[3])
    assert ws.io.write_video(tmp_path / "a" / "b" / "clip.gif", clip).is_file()


def test_read_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        ws.io.read_video(tmp_path / "missing.mp4")
    (tmp_path / "notes.mp4").write_text("not a video")
    with pytest.raises(ValueError, match="cannot read .* as a video"):
        ws.io.read_video(tmp_path / "notes.mp4")
    (tmp_path / "empty.gif").write_bytes(b"")
    with pytest.raises(ValueError, match="cannot read"):
        ws.io.read_video(tmp_path / "empty.gif")
    with pytest.raises(IsADirectoryError, match="directory"):
        ws.io.read_video(tmp_path)


def test_read_rejects_bad_resolution(clip, tmp_path):
    path = ws.io.write_video(tmp_path / "clip.gif", clip)
    for bad in (0, -4, 2.5, True):
        with pytest.raises(ValueError, match="positive integer"):
            ws.io.read_video(path, resolution=bad)


def test_unsupported_extensions(clip, tmp_path):
    with pytest.raises(ValueError, match=r"'\.avi'.*use \.mp4 or \.gif"):
        ws.io.write_video(tmp_path / "clip.avi", clip)
    with pytest.raises(ValueError, match=r"\(none\)"):
        ws.io.write_video(tmp_path / "clip", clip)
    with pytest.raises(ValueError, match=r"use \.png"):
        ws.io.write_image(tmp_path / "frame.jpg", clip[0])


def test_unwritable_output_paths(clip, tmp_path):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(NotADirectoryError, match="not a folder"):
        ws.io.write_video(tmp_path / "file.txt" / "clip.mp4", clip)
    with pytest.raises(NotADirectoryError, match="not a folder"):
        ws.io.write_image(tmp_path / "file.txt" / "sub" / "frame.png", clip[0])
    (tmp_path / "taken.mp4").mkdir()
    with pytest.raises(IsADirectoryError, match="is a directory"):
        ws.io.write_video(tmp_path / "taken.mp4", clip)


def test_read_only_folder(clip, tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.geteuid() == 0:  # root ignores directory permissions: make the probe file fail as it would for a user

        def denied(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr("worldsim.io.checks.tempfile.TemporaryFile", denied)
    with pytest.raises(PermissionError, match="cannot write into .*locked.*writable output path"):
        ws.io.write_video(locked / "clip.mp4", clip)


@pytest.mark.parametrize(
    "frames, match",
    [
        (np.zeros((8, 8, 3), np.uint8), r"\(T, H, W, 3\)"),  # one image, not a video
        (np.zeros((2, 8, 8, 4), np.uint8), r"\(T, H, W, 3\)"),  # RGBA
        (np.zeros((2, 8, 8), np.uint8), r"\(T, H, W, 3\)"),  # grey
        (np.zeros((0, 8, 8, 3), np.uint8), "empty"),
        (np.zeros((2, 8, 8, 3), np.int32), "astype"),
        (np.full((2, 8, 8, 3), 200.0), r"\[0, 1\].*divide"),
        (np.full((2, 8, 8, 3), np.nan, np.float32), "NaN"),
    ],
)
def test_bad_frames(frames, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        ws.io.write_video(tmp_path / "clip.mp4", frames)
    assert not (tmp_path / "clip.mp4").exists()


def test_bad_image_and_fps(clip, tmp_path):
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        ws.io.write_image(tmp_path / "x.png", clip)  # a whole clip is not an image
    for fps in (0, -1, float("nan"), "10"):
        with pytest.raises(ValueError, match="fps"):
            ws.io.write_video(tmp_path / "clip.mp4", clip, fps=fps)


def test_progress_bars_do_not_warn_in_a_notebook_kernel_without_ipywidgets():
    """In a Jupyter kernel without ipywidgets, tqdm.auto warns "IProgress not found" on import; worldsim's bars use
    the text bar there, so importing worldsim and its trainers prints no such warning. A fresh interpreter that
    looks like a kernel to tqdm (ipykernel.zmqshell imported) and cannot import ipywidgets."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import sys, types, warnings
        sys.modules["ipykernel.zmqshell"] = types.ModuleType("ipykernel.zmqshell")  # what tqdm checks for a kernel
        sys.modules["ipywidgets"] = None  # not installed
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            import worldsim, worldsim.train.dynamics, worldsim.train.tokenizer
            from worldsim.io.tqdm_bar import tqdm as bar
            ours = [str(w.message) for w in seen if "IProgress" in str(w.message)]
            import tqdm.auto  # the control: the same import tqdm.auto is what warns
            theirs = [str(w.message) for w in seen if "IProgress" in str(w.message)]
        print(bar.__module__, len(ours), len(theirs))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["tqdm.std", "0", "1"]
