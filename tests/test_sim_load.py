"""ws.load and WorldModel: bundle and dynamics-export round trips, the default, and errors that name the fix."""

import json
import shutil

import jax
import numpy as np
import pytest
from flax import nnx

import worldsim as ws
from worldsim.dynamics import DynamicsConfig, load as dyn_load
from worldsim.sim import WorldModel, export
from worldsim.tokenizer import TokenizerConfig, load as tok_load


@pytest.fixture(scope="module")
def model():
    return WorldModel.random(seed=3)


@pytest.fixture(scope="module")
def bundle(model, tmp_path_factory):
    return export(model, tmp_path_factory.mktemp("bundle") / "model")


def same_weights(a, b) -> bool:
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(la) == len(lb) and all(np.array_equal(x, y) for x, y in zip(la, lb))


def test_random_is_seeded_and_describes_itself(model):
    assert same_weights(model, WorldModel.random(seed=3))
    assert not same_weights(model, WorldModel.random(seed=4))
    assert (model.resolution, model.action_dim, model.max_text_bytes) == (32, 2, 64)
    assert model.latent_shape == (4, 4, 8) and model.has_state_head


def test_bundle_and_dynamics_export_round_trip(model, bundle):
    back = ws.load(bundle)
    assert isinstance(back, ws.WorldModel) and same_weights(model, back)
    alone = ws.load(bundle / "dynamics")  # its config.json points at ../tokenizer
    assert same_weights(model, alone)
    # No "state_labels" record (as in earlier exports and the shipped one): the state head is kept.
    assert "state_labels" not in json.loads((bundle / "dynamics" / "config.json").read_text())
    assert back.has_state_head and alone.has_state_head and back.no_readout is None


def test_a_state_head_recorded_as_never_trained_is_left_out(model, bundle, tmp_path):
    """An export whose trainer recorded no labelled clips loads without its state head (its outputs are noise)."""
    copy = tmp_path / "model"
    shutil.copytree(bundle, copy)
    meta = json.loads((copy / "dynamics" / "config.json").read_text())
    (copy / "dynamics" / "config.json").write_text(json.dumps({**meta, "state_labels": 0}))
    loaded = ws.load(copy)
    assert not loaded.has_state_head and loaded.dynamics.state_head is None
    assert "never trained on labelled clips" in loaded.no_readout
    shared = lambda m: {k: v for k, v in nnx.to_pure_dict(nnx.state(m.dynamics, nnx.Param)).items()  # noqa: E731
                        if k != "state_head"}
    assert same_weights(shared(model), shared(loaded))  # everything else as exported
    (copy / "dynamics" / "config.json").write_text(json.dumps({**meta, "state_labels": 12}))
    assert ws.load(copy).has_state_head


def test_default_pairs_the_shipped_tokenizer(model, bundle, monkeypatch):
    monkeypatch.setattr(dyn_load, "DEFAULT", bundle / "dynamics")
    monkeypatch.setattr(tok_load, "DEFAULT", bundle / "tokenizer")
    assert same_weights(model, ws.load("default")) and ws.load().source == "default"


def test_default_not_shipped_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(dyn_load, "DEFAULT", tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="not shipped yet.*worldsim train dynamics.*WorldModel.random"):
        ws.load("default")


def test_bad_paths_name_the_fix(bundle, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ws.load(tmp_path / "nope")
    with pytest.raises(ValueError, match="tokenizer only"):
        ws.load(bundle / "tokenizer")
    with pytest.raises(ValueError, match="is a file"):
        ws.load(bundle / "dynamics" / "config.json")
    with pytest.raises(ValueError, match="holds no world model.*worldsim train dynamics"):
        ws.load(tmp_path)
    (tmp_path / "work" / "model").mkdir(parents=True)
    (tmp_path / "work" / "model" / "config.json").write_text(json.dumps({"kind": "worldsim.dynamics"}))
    with pytest.raises(ValueError, match="training workdir.*model"):
        ws.load(tmp_path / "work")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text(json.dumps({"kind": "something.else"}))
    with pytest.raises(ValueError, match="'something.else' checkpoint"):
        ws.load(tmp_path / "other")
    with pytest.raises(TypeError, match="directory path"):
        ws.load(3)


def test_dynamics_export_with_missing_or_wrong_tokenizer(model, bundle, tmp_path):
    dyn_load.export(model.dynamics, tmp_path / "lost", {"tokenizer": {"path": str(tmp_path / "gone")}})
    with pytest.raises(FileNotFoundError, match="not there.*DIR/tokenizer"):
        ws.load(tmp_path / "lost")
    dyn_load.export(model.dynamics, tmp_path / "unrecorded")
    with pytest.raises(ValueError, match="does not record its tokenizer"):
        ws.load(tmp_path / "unrecorded")
    tok = str(bundle / "tokenizer")
    dyn_load.export(model.dynamics, tmp_path / "other", {"tokenizer": {"path": tok, "fingerprint": "0" * 64}})
    with pytest.raises(ValueError, match="fingerprint"):
        ws.load(tmp_path / "other")


def test_mismatched_latents_are_refused():
    with pytest.raises(ValueError, match="pair the dynamics with the tokenizer"):
        WorldModel.random(tokenizer_config=TokenizerConfig.tiny(), dynamics_config=DynamicsConfig.tiny().replace(
            latent_dim=4))


def test_the_shipped_weights_stay_within_their_size_budget():
    """The default model (dynamics + tokenizer) ships inside the package: at most 20 MB together."""
    from pathlib import Path

    assets = Path(ws.__file__).parent / "assets"
    size = sum(p.stat().st_size for p in assets.rglob("*") if p.is_file())
    assert 0 < size <= 20_000_000, f"{size / 1e6:.2f} MB of shipped weights"


def _add_params(directory, extra: dict, model_keys: dict, sampling: dict) -> None:
    """Rewrite a dynamics export as an earlier version wrote it: extra parameters and config keys."""
    import orbax.checkpoint as ocp
    from flax import nnx

    dyn = dyn_load.load(directory)
    params = {**nnx.to_pure_dict(nnx.state(dyn, nnx.Param)), **extra}
    with ocp.StandardCheckpointer() as ckpt:
        ckpt.save((directory / "params").absolute(), params, force=True)
    meta = json.loads((directory / "config.json").read_text())
    meta["model"].update(model_keys)
    meta["sampling"] = {**meta.get("sampling", {}), **sampling}
    meta.pop("sha256", None)  # those versions recorded no checksums (and the rewritten files would not match)
    (directory / "config.json").write_text(json.dumps(meta))


def test_an_export_with_the_removed_motion_head_still_loads(model, bundle, tmp_path):
    """Exports written before the object anchor was removed (the shipped one among them) carry its motion head's
    settings, parameters and an 'anchor' sampling key: they load without them. Nothing else is skipped."""
    import shutil

    head = {"queries": np.ones((6, 32), np.float32), "out": {"kernel": np.zeros((32, 2), np.float32),
                                                              "bias": np.zeros((2,), np.float32)}}
    old = tmp_path / "old"
    shutil.copytree(bundle, old)
    _add_params(old / "dynamics", {"motion_head": head},
                {"motion_head": True, "motion_layout": True, "motion_gate": True}, {"anchor": True})
    back = ws.load(old)
    assert same_weights(model, back) and back.dynamics.config == model.dynamics.config
    assert "anchor" not in back.sampling.to_dict()
    ws.Simulator(back).reset(jax.random.key(0), prompt="a red ball")
    stray = tmp_path / "stray"
    shutil.copytree(bundle, stray)
    _add_params(stray / "dynamics", {"other_head": head}, {}, {})
    with pytest.raises(ValueError, match="unexpected other_head"):
        ws.load(stray)
