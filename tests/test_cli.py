"""The `worldsim` command line, run in-process: listing, sampling to files, the demo, help and error handling."""

import re
from pathlib import Path

import jax
import numpy as np
import pytest

import worldsim as ws
from clitools import run
from worldsim.export import sample_chunks

SMALL = ["--resolution", "32", "--frames", "8"]  # the config test_io uses too: compiled once per session




def test_worlds_list_names_every_world_with_splits(capsys):
    code, out, _ = run(capsys, "worlds", "list")
    assert code == 0
    for name in ws.worlds.names():
        assert re.search(rf"^{name}\s+\S", out, re.M)  # name, then its description on the same line
        assert ", ".join(ws.worlds.splits(name)) in out
    assert "gravity 1" in out and "actions push ball 0" in out


def test_sample_mp4_is_readable_and_is_the_library_clip(capsys, tmp_path):
    out_path = tmp_path / "clip.mp4"
    code, out, _ = run(capsys, "worlds", "sample", "--world", "bouncing_balls", "--seed", "3", *SMALL, "--out", str(out_path))
    assert code == 0
    ep = ws.worlds.make("bouncing_balls", resolution=32, num_frames=8).sample(jax.random.key(3), 1)
    assert ep.captions[0] in out and str(out_path) in out
    frames = ws.io.read_video(out_path)
    assert frames.shape == (8, 32, 32, 3)
    assert np.abs(frames.astype(int) - np.asarray(ep.frames[0])).mean() < 8


def test_sample_batch_writes_numbered_gifs(capsys, tmp_path):
    code, out, _ = run(capsys, "worlds", "sample", "--world", "bouncing_balls", "--batch", "3", *SMALL,
                       "--out", str(tmp_path / "sub" / "clip.gif"))
    assert code == 0
    paths = sorted((tmp_path / "sub").iterdir())
    assert [p.name for p in paths] == ["clip_000.gif", "clip_001.gif", "clip_002.gif"]
    assert all(str(p) in out for p in paths)
    assert all(ws.io.read_video(p).shape == (8, 32, 32, 3) for p in paths)


def test_chunked_sampling_keeps_clip_identity():
    world = ws.worlds.make("bouncing_balls", resolution=32, num_frames=8)
    chunks = list(sample_chunks(world, seed=1, batch=5, chunk=3))  # chunk 3: the shape the gif test compiled
    assert [c.batch_size for c in chunks] == [3, 2]
    whole = world.sample(jax.random.key(1), 3)
    assert np.array_equal(chunks[0].frames, whole.frames)  # first chunk = the plain library call
    assert not np.array_equal(chunks[1].frames, chunks[0].frames)


def test_demo_writes_the_files_it_prints(capsys, tmp_path):
    from worldsim.demo import PROMPTS, VIDEO_SCALE

    code, out, _ = run(capsys, "demo", "--out", str(tmp_path / "demo"))
    assert code == 0
    printed = [Path(line.split("wrote ", 1)[1]) for line in out.splitlines() if "wrote " in line]
    assert sorted(printed) == sorted((tmp_path / "demo").iterdir())
    assert {p.suffix for p in printed} == {".mp4", ".gif", ".png"} and len(printed) == 12
    assert {p.name.split(".")[0].removesuffix("_sheet") for p in printed} == {"text", "bouncing_balls", "gravity", "push"}
    for p in printed:
        if p.suffix == ".png":
            import mediapy

            assert mediapy.read_image(p).shape[-1] == 3
        else:
            # two rows of 64-pixel clips with a 2-pixel line between, each pixel shown as VIDEO_SCALE x VIDEO_SCALE
            assert ws.io.read_video(p).shape[1] == (2 * 64 + 2) * VIDEO_SCALE
    assert all(p in out for p in PROMPTS) and "model: default" in out
    report = out.split("Physics report", 1)[1].splitlines()
    rows = {line.split()[0]: line.split() for line in report if line.strip().startswith(("bouncing", "gravity", "push"))}
    assert set(rows) == {"bouncing_balls", "gravity", "push"}
    for cells in rows.values():  # model, copy-last, constant velocity, floor, score: numbers; the floor is smallest
        model, copy, cv, floor = (float(x) for x in cells[1:5])
        assert 0 <= floor < min(model, copy, cv)


@pytest.mark.parametrize(
    "argv", [["--help"], ["worlds", "--help"], ["worlds", "list", "--help"], ["worlds", "sample", "--help"], ["demo", "--help"]]
)
def test_help_exits_zero(capsys, argv):
    code, out, _ = run(capsys, *argv)
    assert code == 0 and "usage: worldsim" in out


def test_top_level_help_describes_every_command_in_one_line(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")  # a terminal's width, not the test runner's
    from worldsim.cli import build_parser

    names = set(next(a for a in build_parser()._actions if a.dest == "command").choices)
    code, out, _ = run(capsys, "--help")
    assert code == 0 and names == {"worlds", "demo", "train", "eval", "bench", "play"}
    description = out.split("positional arguments")[0].split("\n", 1)[1]  # after the usage line
    rows = [x for x in out.split("positional arguments")[1].split("options:")[0].splitlines() if x.startswith("    ")]
    described = {m.group(1) for x in rows if (m := re.match(r"^ {4}(\w+) +\S", x))}  # name and text on one line
    assert described == names and len(rows) == len(names)  # no wrapped continuation lines
    for name in names:
        assert re.search(rf"\b{name}\b", description), name  # the description covers every command


def test_bad_world_name_lists_valid_names(capsys, tmp_path):
    code, _, err = run(capsys, "worlds", "sample", "--world", "nope", "--out", str(tmp_path / "c.mp4"))
    assert code == 2
    assert all(name in err for name in ws.worlds.names())
    code, _, err = run(capsys, "demo", "--seed", "-1", "--out", str(tmp_path))
    assert code == 2 and "0 <= seed < 2**32" in err


def test_library_errors_are_one_line_exit_2(capsys, tmp_path):
    code, _, err = run(capsys, "worlds", "sample", "--world", "push", "--split", "gravity_weak", "--out", str(tmp_path / "c.mp4"))
    assert code == 2 and err.count("\n") == 1 and err.startswith("worldsim: error: unknown split")
    assert "Traceback" not in err
    code, _, err = run(capsys, "worlds", "sample", "--world", "push", "--out", str(tmp_path / "c.avi"))
    assert code == 2 and "use .mp4 or .gif" in err


def test_unwritable_output_paths_fail_fast(capsys, tmp_path):
    (tmp_path / "file.txt").write_text("x")
    code, _, err = run(capsys, "worlds", "sample", "--world", "push", "--out", str(tmp_path / "file.txt" / "c.mp4"))
    assert code == 2 and err.startswith("worldsim: error: cannot write into") and "choose another output path" in err
    code, _, err = run(capsys, "demo", "--out", str(tmp_path / "file.txt"))
    assert code == 2 and "worldsim: error: cannot write into" in err
