"""`worldsim eval` on a model of another resolution than the suites' 64x64 (a 32x32 model, as the tiny presets and
a run on your own videos make): the worlds are rendered at the model's resolution and the report says so."""

import pytest

from clitools import run
from worldsim.probes import CopyLast, Report, Suite, evaluate
from worldsim.sim import WorldModel, export


@pytest.fixture(scope="module")
def model32(tmp_path_factory):
    """A random tiny model (32x32, 64-byte prompts: the world captions are longer and get cut) exported as a bundle."""
    return str(export(WorldModel.random(seed=0), tmp_path_factory.mktemp("m32") / "model"))


def test_eval_runs_a_32px_model_at_its_resolution(capsys, tmp_path, monkeypatch, model32):
    # The quick suite's physics and pixel measures only: the capability checks (text, VoE, latent probes) ran at 32x32
    # by hand (`worldsim eval --suite quick` on this model, 89 s); they add a minute of compiling here.
    quick = Suite.quick()
    monkeypatch.setattr(Suite, "quick", classmethod(lambda cls: quick.replace(families=("physics", "pixels"))))
    code, out, err = run(capsys, "eval", "--model", model32, "--suite", "quick", "--out", str(tmp_path))
    assert code == 0, err
    assert "at 32x32, suite quick" in out and f"wrote {tmp_path / 'report.md'}" in out
    report = Report.from_json(tmp_path / "report.json")
    assert report.data["suite"]["resolution"] == 32 and report.data["suite"]["name"] == "quick"
    assert "generated frames at 32x32" in (tmp_path / "report.md").read_text()
    m = report.measures("bouncing_balls")
    floor = report.measures("bouncing_balls", column="oracle")
    assert floor["coverage"] == 1.0 and floor["ade"] < 0.002  # the tracker finds every ball in 32x32 clips
    assert set(m) == set(floor)


def test_eval_resolution_flag(capsys, tmp_path, model32):
    code, out, err = run(capsys, "eval", "--model", "copy_last", "--suite", "quick", "--resolution", "32",
                         "--out", str(tmp_path / "cl"))
    assert code == 0, err
    assert "at 32x32" in out and Report.from_json(tmp_path / "cl" / "report.json").data["suite"]["resolution"] == 32
    code, _, err = run(capsys, "eval", "--model", model32, "--suite", "quick", "--resolution", "64",
                       "--out", str(tmp_path / "bad"))
    assert code == 2 and "works at 32x32 only" in err and "Traceback" not in err
    assert not (tmp_path / "bad").exists()


def test_a_suite_by_name_runs_at_the_predictors_resolution():
    report = evaluate(CopyLast(32), "quick", progress=False)
    assert report.data["suite"]["resolution"] == 32
    with pytest.raises(ValueError, match=r"works at 32x32 but the suite's clips are 64x64.*by name"):
        evaluate(CopyLast(32), Suite.quick(), progress=False)  # a Suite object keeps its own resolution
