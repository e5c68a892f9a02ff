"""`worldsim eval`, in-process: the quick suite end to end for both frames-only baselines, and its errors."""

import json

import numpy as np
import pytest

from clitools import run
from worldsim.probes import Report




@pytest.mark.parametrize("model, column", [("copy_last", "copy_last"), ("constant_velocity", "cv_tracked")])
def test_eval_quick_writes_the_report(capsys, tmp_path, model, column):
    code, out, err = run(capsys, "eval", "--model", model, "--suite", "quick", "--out", str(tmp_path))
    assert code == 0, err
    written = sorted(line.split("wrote ", 1)[1] for line in out.splitlines() if line.startswith("wrote "))
    names = {p.rsplit("/", 1)[-1] for p in written}
    assert {"report.json", "report.md", "trajectories_bouncing_balls.png", "error_horizon_bouncing_balls.png",
            "conservation_bouncing_balls.png"} == names
    assert "evaluating" in err and "100%" in err  # the tqdm progress bar
    report = Report.from_json(tmp_path / "report.json")
    assert report.data["model_name"] == model and report.data["suite"]["name"] == "quick"
    # The CLI's predictor is the same baseline the harness runs as a column: identical measures.
    np.testing.assert_equal(report.measures("bouncing_balls"), report.measures("bouncing_balls", column=column))
    assert json.loads((tmp_path / "report.json").read_text())["columns"][0] == "model"
    md = (tmp_path / "report.md").read_text()
    assert f"# Physics report: {model}" in md and "| velocity error (u/s) |" in md


def test_eval_errors_are_one_line(capsys, tmp_path):
    missing = str(tmp_path / "no_model")
    code, _, err = run(capsys, "eval", "--model", missing, "--suite", "quick", "--out", str(tmp_path))
    assert code == 2 and "does not exist" in err and "Traceback" not in err
    assert not (tmp_path / "report.json").exists()
    code, _, err = run(capsys, "eval", "--model", "copy_last", "--suite", "huge", "--out", str(tmp_path))
    assert code == 2 and "invalid choice: 'huge'" in err
