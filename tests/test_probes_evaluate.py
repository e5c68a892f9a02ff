"""The evaluation harness on predictors with known answers: the truth scores the floor, copy-last scores copy-last,
an injected drift scores the drift; capabilities; the report's JSON, Markdown and plots; bad input."""

import dataclasses

import jax
import numpy as np
import pytest

import worldsim as ws
from worldsim.probes import CopyLast, Report, Suite, evaluate
from worldsim.probes.predictor import from_model, register_adapter, resolve
from worldsim.probes.scoring import score_clips
from worldsim.probes.suite import get_suite, sample_clips

from truth_predictors import TruthLookup, tracked_jumps

KEY = jax.random.key(1_000_123)
SMALL = Suite(name="test", worlds=("bouncing_balls",), splits=("id",), clips=6, horizon=8, resolution=32,
              families=("physics", "pixels"), batch=4)  # batch 4 < 6 clips: the harness's batching is exercised


def run(predictor, suite=SMALL):
    return evaluate(predictor, suite, key=KEY, progress=False)


@pytest.fixture(scope="module")
def truth_report():
    return run(TruthLookup(SMALL, KEY))


def test_truth_predictor_scores_the_floor(truth_report):
    m = truth_report.data["worlds"]["bouncing_balls"]["id"]["measures"]
    np.testing.assert_equal(m["model"], m["oracle"])  # the same frames through the same tracker: the floor exactly
    for k in ("vel_err", "vel_err_post", "ade", "fde", "energy_err", "mse"):
        assert truth_report.score("bouncing_balls", k) == pytest.approx(1.0)
    assert m["model"]["ade"] < 0.05 / 32 and m["model"]["horizon"] == SMALL.horizon


def test_copy_last_predictor_scores_copy_last():
    r = run(CopyLast(resolution=32))
    m = r.data["worlds"]["bouncing_balls"]["id"]["measures"]
    np.testing.assert_equal(m["model"], m["copy_last"])
    assert m["model"]["vel_err"] == pytest.approx(m["model"]["speed"], rel=1e-12)  # a frozen clip: error = true speed
    for k in ("vel_err", "ade", "fde", "mse", "horizon"):
        assert r.score("bouncing_balls", k) == 0.0
    # the baselines lie between: constant velocity beats copy-last overall (not after collisions: docs/eval.md)
    assert 0 < r.score("bouncing_balls", "vel_err", column="cv_tracked") < 1


def test_scores_only_where_copy_last_is_worse_than_the_floor():
    from worldsim.probes.evaluate import scaled

    assert scaled(0.5, 1.0, 0.0, "ade") == 0.5 and scaled(12.0, 4.0, 16.0, "horizon") == pytest.approx(2 / 3)
    assert np.isnan(scaled(0.5, 0.0, 0.001, "ade"))  # copy-last already at or below the floor: no scale
    assert np.isnan(scaled(0.9, 1.0, 1.0, "ssim")) and np.isnan(scaled(5.0, 9.0, 8.0, "horizon"))


def test_drift_predictor_scores_the_drift(truth_report):
    drift = np.array([0.1, -0.05])  # world units / s from frame c-1 on
    r = run(TruthLookup(SMALL, KEY, drift=drift, name="drift"))
    e = r.data["worlds"]["bouncing_balls"]["id"]
    speed, dt = np.linalg.norm(drift), ws.worlds.make("bouncing_balls").config.dt
    np.testing.assert_allclose(e["curves"]["ade"]["model"], speed * dt * np.arange(1, SMALL.horizon + 1), atol=0.1 / 32)
    assert e["measures"]["model"]["vel_err"] == pytest.approx(speed, rel=0.15)
    assert 0 < r.score("bouncing_balls", "ade") < 1  # better than copy-last, worse than the floor
    np.testing.assert_equal(e["measures"]["oracle"], truth_report.measures("bouncing_balls", column="oracle"))


def test_report_json_markdown_and_plots(truth_report, tmp_path):
    path = truth_report.to_json(tmp_path / "r" / "report.json")
    back = Report.from_json(path)
    assert back.to_dict() == truth_report.to_dict()
    assert back.score("bouncing_balls", "ade") == truth_report.score("bouncing_balls", "ade")
    assert "NaN" not in path.read_text() and "Infinity" not in path.read_text()  # strict JSON
    md = back.to_markdown()
    assert "### bouncing_balls / id (6 clips)" in md
    for row in ("| velocity error (u/s) |", "| ADE (u) |", "| valid horizon (frames) |", "| energy drift", "| SSIM |"):
        assert row in md
    assert "| floor (oracle) |" in md and "law fit" not in md  # no gravity: the all-NaN row is left out
    pngs = back.plots(tmp_path / "plots")
    assert sorted(p.name for p in pngs) == ["conservation_bouncing_balls.png", "error_horizon_bouncing_balls.png",
                                           "trajectories_bouncing_balls.png"]
    assert all(p.stat().st_size > 10_000 and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


class Capable(TruthLookup):
    """Truth continuations plus every optional capability, each with a known answer."""

    def __init__(self, suite, key, constant_surprise=False):
        super().__init__(suite, key, name="capable")
        self.constant = constant_surprise
        self.first = {}
        for w in suite.worlds:
            _, ep = sample_clips(suite, w, "id", key)
            self.first.update({c: np.asarray(f) for c, f in zip(ep.captions, ep.frames[:, 0])})

    def first_frames(self, captions, key):
        return np.stack([self.first[c] for c in captions])  # the true first frame of each caption

    def surprise(self, frames, actions, key):
        f = np.asarray(frames)
        return np.ones(f.shape[:2]) if self.constant else tracked_jumps(f)  # teleports are tracked jumps

    def latents(self, frames):
        pos = np.asarray(ws.probes.track(np.asarray(frames)).pos)  # (B, T, C, 2) tracked centre per colour
        centre = (frames.shape[2] - 1) / 2  # an absent colour reads as the box centre: no outlying feature values
        return np.where(np.isnan(pos), centre, pos).reshape(frames.shape[:2] + (-1,))


def test_capabilities_with_known_answers():
    suite = Suite.quick()
    r = run(Capable(suite, KEY), suite)
    d = r.data
    np.testing.assert_equal(d["text"]["bouncing_balls"]["model"], d["text"]["bouncing_balls"]["oracle"])
    assert d["text"]["bouncing_balls"]["oracle"]["match_acc"] == 1.0
    voe = d["voe"]["bouncing_balls"]["teleport"]
    assert voe["pairwise_accuracy"] == 1.0 and voe["auroc"] == 1.0 and voe["n_pairs"] == suite.voe_pairs
    lat = d["latents"]["bouncing_balls"]
    assert lat["model"]["n_colours"] >= 1 and lat["model"]["pos_r2"] > 0.99 and lat["model"]["vel_r2"] > 0.95
    assert lat["random_encoder"]["pos_r2"] < lat["model"]["pos_r2"] and np.isfinite(lat["pixels"]["pos_r2"])
    assert d["skipped"] == {"actions": "no controllable world (push) in the suite"}
    md = r.to_markdown()
    assert "## Text conditioning" in md and "## Violation of expectation" in md and "## Latent linear probes" in md
    flat = run(Capable(suite, KEY, constant_surprise=True), suite.replace(families=("voe",)))
    assert flat.data["voe"]["bouncing_balls"]["teleport"]["auroc"] == 0.5  # no information: chance
    assert flat.data["worlds"] == {}


def test_action_following_known_answers():
    suite = SMALL.replace(worlds=("push",), families=("actions",))
    sim = run(TruthLookup(suite, KEY, simulate=True, name="world"), suite).data["actions"]["push"]
    np.testing.assert_equal(sim["model"], sim["oracle"])  # the world's own response to the pushes
    assert sim["oracle"]["follow_acc"] > 0.8 and sim["oracle"]["response_px"] > 2
    assert sim["copy_last"]["follow_acc"] == 0.0 and sim["copy_last"]["response_px"] == 0.0
    ignoring = run(CopyLast(resolution=32), suite).data["actions"]["push"]
    assert ignoring["model"]["follow_acc"] == 0.0


class Broken(CopyLast):
    def __init__(self, how):
        super().__init__(resolution=32, name="broken")
        self.how = how

    def continue_frames(self, frames, actions, captions, num_frames, key):
        out = super().continue_frames(frames, actions, captions, num_frames, key)
        if self.how == "float":
            return out.astype(np.float32) / 255
        if self.how == "short":
            return out[:, :-1]
        if self.how == "black":
            return np.zeros_like(out)
        return out[..., :2]


@pytest.mark.parametrize("how, match", [("float", r"uint8 frames, got float32 \(floats in \[0, 1\]"),
                                        ("short", r"must return shape \(4, 8, 32, 32, 3\), got \(4, 7, 32, 32, 3\)"),
                                        ("channels", r"must return shape")])
def test_predictor_returning_bad_frames(how, match):
    with pytest.raises(ValueError, match=match):
        run(Broken(how))


def test_blank_predictions_are_scored_and_warned_about():
    r = run(Broken("black"))
    m = r.measures("bouncing_balls")
    assert m["coverage"] == 0.0 and m["missing"] == 1.0 and m["horizon"] == 0.0
    assert len(r.data["warnings"]) == 1 and "uint8 in [0, 255]" in r.data["warnings"][0]


def test_bad_suites_and_predictors():
    with pytest.raises(ValueError, match="unknown suite 'huge'"):
        get_suite("huge")
    with pytest.raises(ValueError, match="unknown world 'pool'.*valid names"):
        Suite(worlds=("pool",))
    with pytest.raises(ValueError, match="unknown split"):
        Suite(worlds=("bouncing_balls",), splits=("gravity_weak",))
    with pytest.raises(ValueError, match=r"Suite.clips=0: use an integer >= 1"):
        Suite(clips=0)
    with pytest.raises(ValueError, match="measure family"):
        Suite(families=("vibes",))
    with pytest.raises(ValueError, match="not a Predictor: it lacks name, resolution, continue_frames"):
        evaluate(object(), SMALL)
    with pytest.raises(ValueError, match=r"works at 64x64 but the suite's clips are 32x32.*resolution=64"):
        evaluate(CopyLast(), SMALL, progress=False)
    with pytest.raises(ValueError, match="PRNG key"):
        evaluate(CopyLast(32), SMALL, key=3, progress=False)


def test_wrong_surprise_and_first_frames_shapes():
    suite = Suite.quick().replace(families=("voe", "text"))

    class Bad(CopyLast):
        def surprise(self, frames, actions, key):
            return np.zeros(np.shape(frames)[:1])  # one number per clip, not per frame

        def first_frames(self, captions, key):
            return np.zeros((len(captions) + 1, 64, 64, 3), np.uint8)

    with pytest.raises(ValueError, match=r"first_frames must return shape \(4, 64, 64, 3\)"):
        run(Bad(), suite)
    with pytest.raises(ValueError, match=r"one number per frame, shape \(4, 11\)"):
        run(Bad(), suite.replace(families=("voe",)))


def test_no_visible_ball_in_the_truth_names_the_fix():
    _, ep = sample_clips(SMALL, "bouncing_balls", "id", KEY)
    blank = dataclasses.replace(ep, frames=np.zeros_like(ep.frames))
    with pytest.raises(ValueError, match="no ball is visible.*rendered clips of these states"):
        score_clips(np.zeros_like(ep.frames), blank, SMALL.context)


def test_model_adapter_registry(tmp_path):
    from worldsim.probes.model_predictor import ModelPredictor

    assert isinstance(from_model("default"), ModelPredictor)  # the shipped model, through ws.load
    with pytest.raises(FileNotFoundError, match="does not exist"):
        from_model(str(tmp_path / "nothing_here"))
    assert isinstance(resolve("copy_last", 32), CopyLast) and resolve("constant_velocity").name == "constant_velocity"
    register_adapter(lambda spec: CopyLast(resolution=64, name=f"model:{spec}"))
    try:
        assert resolve("default").name == "model:default"
    finally:
        register_adapter(None)
    with pytest.raises(ValueError, match="holds no world model"):
        resolve(str(tmp_path))


def test_text_accuracy_reads_the_sizes_a_caption_names():
    from worldsim.probes.text_following import text_accuracy

    ep = ws.worlds.make("bouncing_balls", num_frames=2).sample(jax.random.key(3), 16)
    first = np.asarray(ep.frames[:, 0])
    truth = text_accuracy(first, ep.facts)
    assert truth["match_acc"] == 1.0 and truth["region_acc"] == 1.0 and truth["size_acc"] >= 0.9
    other = {"small": "large", "medium": "small", "large": "medium"}
    wrong = [dict(f, balls=[dict(b, size=other[b["size"]]) for b in f["balls"]]) for f in ep.facts]
    assert text_accuracy(first, wrong)["size_acc"] <= 0.1


def test_markdown_tables_escape_bars_in_cells():
    from worldsim.probes.report_markdown import _table

    lines = _table(["measure", "model"], [["momentum drift |dP| / P0", "0.1"]])
    assert lines[2] == "| momentum drift \\|dP\\| / P0 | 0.1 |"
    assert all(line.replace("\\|", "").count("|") == 3 for line in lines)  # two cells per row, whatever they hold
