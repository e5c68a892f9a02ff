"""The README's Simulator API snippet runs as written (on the tiny random model while no default is shipped)."""

import re
from pathlib import Path

import numpy as np
from simtools import tiny_model

import worldsim as ws
from worldsim.dynamics import load as dyn_load

README = Path(__file__).resolve().parent.parent / "README.md"


def snippet() -> str:
    text = README.read_text()
    section = text.split("## Simulator API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_simulator_snippet_runs(monkeypatch, capsys):
    code = snippet()
    assert len(code.strip().splitlines()) <= 15
    assert 'ws.load("default")' in code
    if not (dyn_load.DEFAULT / "config.json").is_file():  # the default dynamics is not shipped yet
        monkeypatch.setattr(ws, "load", lambda name="default": tiny_model())
    namespace = {}
    exec(compile(code, str(README), "exec"), namespace)
    assert namespace["outs"].readout.pos.shape == (3, 6, 2)
    assert namespace["out"].frame.dtype == np.uint8 and int(namespace["state"].t) == 9
    assert "(3, 6, 2)" in capsys.readouterr().out
