"""The README's "Train on your own videos" walkthrough runs as written, in a fresh folder: clips written with
ws.io.write_video, the two `worldsim train` commands (tiny preset; fewer steps, to keep it short), then the
trained model loaded and stepped. In-process, so the commands' compiled programs are shared with the snippets."""

import re
import shlex
from pathlib import Path

import numpy as np

import worldsim as ws
from worldsim.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"
# Added to each command: a few steps (the walkthrough's plumbing, not a trained model); no validation pass at the end
EXTRA = {"tokenizer": ["--steps", "3"], "dynamics": ["--steps", "3", "--set", "val_every=0"]}


def blocks() -> list[tuple[str, str]]:
    """(language, code) of every fenced block of the section, in order."""
    section = README.read_text(encoding="utf-8").split("## Train on your own videos\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(\w+)\n(.*?)```", section, re.S)


def test_the_walkthrough_is_clips_commands_and_stepping():
    langs = [lang for lang, _ in blocks()]
    assert langs == ["python", "bash", "python"]
    write, commands, step = (code for _, code in blocks())
    assert "ws.io.write_video" in write and 'ws.load("runs/mydyn/model")' in step and "sim.rollout" in step
    lines = [ln for ln in commands.splitlines() if ln.strip()]
    assert [shlex.split(ln)[:3] for ln in lines] == [["worldsim", "train", "tokenizer"],
                                                     ["worldsim", "train", "dynamics"]]
    assert all("--video-folder clips" in ln and "--videos-only" in ln and "--preset tiny" in ln for ln in lines)


def test_the_walkthrough_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write, commands, step = (code for _, code in blocks())
    exec(compile(write, f"{README}: clips", "exec"), {})
    assert sorted(p.name for p in (tmp_path / "clips").iterdir()) == [
        f"clip_{i}.{ext}" for i in range(4) for ext in ("mp4", "txt")]
    for line in filter(str.strip, commands.splitlines()):
        argv = shlex.split(line)
        assert main(argv[1:] + EXTRA[argv[2]]) == 0, line
    namespace = {}
    exec(compile(step, f"{README}: stepping", "exec"), namespace)
    model, outs = namespace["model"], namespace["outs"]
    r = model.resolution
    assert r == 32 and model.source == "runs/mydyn/model"
    assert outs.frame.shape == (8, r, r, 3) and outs.frame.dtype == np.uint8
    assert int(namespace["state"].t) == 8  # 8 steps after the 4 given frames
    assert f"(8, {r}, {r}, 3)" in capsys.readouterr().out
    assert ws.io.read_video(tmp_path / "rollout.mp4").shape == (4 + 8, r, r, 3)
