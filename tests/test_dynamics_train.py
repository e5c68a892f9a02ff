"""Dynamics training: the latent dataset, the masked objective, tiny training, kill-and-resume, training on a folder
of videos, export/load, bad input, the CLI. Uses a tiny *untrained* tokenizer: what is tested is the machinery."""

import json
import shutil
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import worldsim as ws
from killing import kill_after_checkpoint, saved_steps
from tbtools import read_events
from worldsim.agents import CEMConfig, learned_planner
from worldsim.cli import main as cli_main
from worldsim.data import HELD_OUT_SEED, LatentDataset, concat
from worldsim.data import latents as latents_mod
from worldsim.dynamics import DynamicsModel, StatePred, state_loss
from worldsim.dynamics.load import export as export_dynamics, load as load_dynamics
from worldsim.envs import WorldSimEnv
from worldsim.io.params import flatten_tree
from worldsim.sim import export as export_world
from worldsim.tokenizer import Tokenizer, TokenizerConfig
from worldsim.tokenizer.load import export as export_tokenizer, load as load_tokenizer
from worldsim.train.checkpoint import Checkpointer
from worldsim.train.dynamics import DynamicsTrainConfig, masked_state_loss, train

WORLDS = ("bouncing_balls", "push")
# Shapes shared with DynamicsTrainConfig.tiny() (32x32 frames, 6-frame clips, chunks of 8): one compile serves all.
DATA = dict(num_frames=6, chunk=8, max_text_bytes=64, quiet=True)
# One optimizer setting (steps, lr, warmup) for every run in this file: the jitted step then compiles once.
RUN = dict(steps=30, save_every=5, log_every=5, val_every=0, sample_every=0)


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("tokenizer")
    export_tokenizer(Tokenizer(TokenizerConfig.tiny(), rngs=nnx.Rngs(0)), d)
    return d


@pytest.fixture(scope="module")
def tokenizer(tokenizer_dir):
    return load_tokenizer(tokenizer_dir)


def tiny(tokenizer_dir, **kw) -> DynamicsTrainConfig:
    return DynamicsTrainConfig.tiny().replace(tokenizer=str(tokenizer_dir), **{**RUN, **kw})


@pytest.fixture(scope="module")
def worlds_data(tokenizer):
    return LatentDataset.from_worlds(tokenizer, WORLDS, 3, seed=0, **DATA)


# ----- the latent dataset -----


def test_latent_dataset_contents(worlds_data):
    d = worlds_data
    assert len(d) == 6 and d.latents.shape == (6, 6, 4, 4, 8) and d.latents.dtype == np.float32
    assert d.sources == WORLDS and list(d.source) == [0, 0, 0, 1, 1, 1]
    assert list(d.has_actions) == [False] * 3 + [True] * 3 and d.actions.shape == (6, 6, 2)
    assert not d.actions[:3].any() and d.actions[3:].any()  # passive world: zeros; push: its random pushes
    assert d.has_state.all() and d.state_pos.shape == (6, 6, 6, 2) and d.state_present.any(-1).all()
    assert d.text_mask.any(-1).all() and d.captions_truncated > 0  # world captions exceed tiny's 64 bytes
    for i in range(len(d)):  # cut at a word boundary, still valid UTF-8
        assert len(d.caption(i).encode()) <= 64 and not d.caption(i).endswith(" ")
    assert np.abs(d.latents).max() <= 1.0  # the tokenizer's tanh bottleneck


def test_latent_dataset_is_deterministic_and_held_out_differs(tokenizer, worlds_data):
    again = LatentDataset.from_worlds(tokenizer, WORLDS, 3, seed=0, **DATA)
    for k in latents_mod._ARRAYS:
        np.testing.assert_array_equal(getattr(again, k), getattr(worlds_data, k))
    assert again.fingerprint == worlds_data.fingerprint
    other = LatentDataset.from_worlds(tokenizer, WORLDS, 3, seed=1, **DATA)
    held = LatentDataset.from_worlds(tokenizer, WORLDS, 3, seed=0, held_out=True, **DATA)
    assert not np.array_equal(other.latents, worlds_data.latents)
    assert not np.array_equal(held.latents, worlds_data.latents) and held.fingerprint != worlds_data.fingerprint
    with pytest.raises(ValueError, match="held_out=True"):
        LatentDataset.from_worlds(tokenizer, WORLDS, 3, seed=HELD_OUT_SEED, **DATA)


def test_latent_dataset_save_load_and_cache(tokenizer, worlds_data, tmp_path, monkeypatch):
    path = worlds_data.save(tmp_path / "d.npz")
    back = LatentDataset.load(path)
    for k in latents_mod._ARRAYS:
        np.testing.assert_array_equal(getattr(back, k), getattr(worlds_data, k))
    assert (back.sources, back.fingerprint, back.captions_truncated) == (
        worlds_data.sources, worlds_data.fingerprint, worlds_data.captions_truncated)
    # Same arguments: served from the cache, nothing is encoded. Different arguments: rebuilt.
    monkeypatch.setattr(latents_mod, "_encoder", lambda tok: pytest.fail("encoded although the cache matched"))
    cached = LatentDataset.from_worlds(tokenizer, WORLDS, 3, seed=0, cached=path, **DATA)
    np.testing.assert_array_equal(cached.latents, worlds_data.latents)
    def rebuilding(tok):
        raise RuntimeError("rebuilt")

    monkeypatch.setattr(latents_mod, "_encoder", rebuilding)
    with pytest.raises(RuntimeError, match="rebuilt"):
        LatentDataset.from_worlds(tokenizer, WORLDS, 2, seed=0, cached=path, **DATA)
    with pytest.raises(FileNotFoundError, match="no latent dataset"):
        LatentDataset.load(tmp_path / "missing.npz")


def test_batches_are_deterministic_windows_of_aligned_clips(worlds_data):
    d = worlds_data
    b = d.batch(3, 5, seed=2, clip_frames=4)
    assert b["latents"].shape == (5, 4, 4, 4, 8) and b["latents"].dtype == np.float32
    assert b["actions"].shape == (5, 4, 2) and b["text_ids"].shape == (5, 64) and b["state_pos"].shape == (5, 4, 6, 2)
    assert b["has_state"].shape == (5,) and b["state_present"].shape == (5, 4, 6)
    np.testing.assert_array_equal(d.batch(3, 5, seed=2, clip_frames=4)["latents"], b["latents"])
    assert not np.array_equal(d.batch(4, 5, seed=2, clip_frames=4)["latents"], b["latents"])
    for r in range(5):  # each row is one clip's window, with that clip's actions, states and caption
        c, s = next((c, s) for c in range(len(d)) for s in range(3)
                    if np.array_equal(d.latents[c, s:s + 4], b["latents"][r]))
        np.testing.assert_array_equal(b["actions"][r], d.actions[c, s:s + 4])
        np.testing.assert_array_equal(b["state_pos"][r], d.state_pos[c, s:s + 4])
        np.testing.assert_array_equal(b["text_ids"][r], d.text_ids[c])
    with pytest.raises(ValueError, match="clips here have 6 frames"):
        d.batch(0, 2, clip_frames=7)


def test_float16_storage(tokenizer, worlds_data):
    half = LatentDataset.from_worlds(tokenizer, WORLDS, 3, seed=0, dtype="float16", **DATA)
    assert half.latents.dtype == np.float16 and half.batch(0, 2)["latents"].dtype == np.float32
    np.testing.assert_allclose(half.latents.astype(np.float32), worlds_data.latents, atol=1e-3)


# ----- the objective (flow_loss is the model's own; the state loss is masked per clip) -----


def test_masked_state_loss_equals_state_loss_and_ignores_clips_without_state():
    rng = np.random.default_rng(0)
    shape = (4, 5, 6)  # (B, T, C)
    pred = StatePred(*(jnp.asarray(rng.normal(size=shape + e), jnp.float32) for e in ((), (2,), (2,))))
    pos, vel = (jnp.asarray(rng.normal(size=shape + (2,)), jnp.float32) for _ in range(2))
    present = jnp.asarray(rng.random(shape) < 0.5)
    loss, parts = masked_state_loss(pred, pos, vel, present, jnp.ones(4, bool))
    ref, ref_parts = state_loss(pred, pos, vel, present)
    np.testing.assert_allclose(loss, ref, rtol=1e-6)
    for k in ref_parts:
        np.testing.assert_allclose(parts[k], ref_parts[k], rtol=1e-6)
    # Clips without ground-truth state: their (meaningless) targets do not move the loss ...
    has = jnp.array([True, True, False, False])
    masked, _ = masked_state_loss(pred, pos, vel, present, has)
    scrambled, _ = masked_state_loss(pred, pos.at[2:].add(5.0), vel, present.at[2:].set(True), has)
    np.testing.assert_allclose(masked, scrambled, rtol=1e-6)
    np.testing.assert_allclose(masked, state_loss(StatePred(*(x[:2] for x in pred)), pos[:2], vel[:2], present[:2])[0],
                               rtol=1e-6)  # ... it is the loss over the clips that have state
    assert float(masked_state_loss(pred, pos, vel, present, jnp.zeros(4, bool))[0]) == 0.0


# ----- training -----


@pytest.fixture(scope="module")
def reference(tokenizer_dir, tmp_path_factory):
    """An uninterrupted tiny run (also the reference for kill-and-resume)."""
    workdir = tmp_path_factory.mktemp("dyn_full")
    return train(tiny(tokenizer_dir), workdir, quiet=True), workdir


def test_tiny_training_lowers_the_loss(reference):
    _, workdir = reference
    lines = [json.loads(x) for x in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert lines[-1]["step"] == RUN["steps"] and len(lines) == RUN["steps"] // RUN["log_every"]
    assert lines[-1]["loss"] < 0.8 * lines[0]["loss"] and lines[-1]["flow_loss"] < lines[0]["flow_loss"]
    assert {"loss", "flow_loss", "state_loss", "grad_norm", "lr", "frames_per_s"} <= set(lines[-1])
    assert (workdir / "tb").is_dir() and any((workdir / "tb").iterdir())
    saved = json.loads((workdir / "model" / "config.json").read_text())
    assert saved["kind"] == "worldsim.dynamics" and saved["tokenizer"]["model"]["resolution"] == 32
    assert saved["state_labels"] == 2 * DynamicsTrainConfig.tiny().clips_per_world  # every world clip has state
    assert ws.load(workdir / "model").has_state_head


def test_sigkill_and_resume_gives_identical_parameters(reference, tokenizer_dir, tmp_path):
    ref_model, ref_dir = reference
    shutil.copytree(ref_dir / "latents", tmp_path / "latents")  # same fingerprint: the run reuses, not re-encodes
    stamp = (tmp_path / "latents" / "worlds.npz").stat().st_mtime_ns
    cfg = tiny(tokenizer_dir)
    script = textwrap.dedent(f"""
        from worldsim.train.dynamics import DynamicsTrainConfig, train
        cfg = DynamicsTrainConfig.tiny().replace(tokenizer={str(tokenizer_dir)!r}, **{RUN!r})
        train(cfg, {str(tmp_path)!r}, quiet=True)
    """)
    killed_at = kill_after_checkpoint(script, tmp_path / "checkpoints", min_step=10)
    assert killed_at < RUN["steps"]
    # Resume here: a fresh train() call that finds only what the killed process left on disk.
    resumed = train(cfg, tmp_path, quiet=True)
    assert (tmp_path / "latents" / "worlds.npz").stat().st_mtime_ns == stamp
    steps = [json.loads(x)["step"] for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(RUN["log_every"], RUN["steps"] + 1, RUN["log_every"]))  # each step logged once
    ref = jax.tree.leaves(nnx.state(ref_model, nnx.Param))
    for model in (resumed, load_dynamics(tmp_path / "model")):
        got = jax.tree.leaves(nnx.state(model, nnx.Param))
        assert len(ref) == len(got)
        for a, b in zip(ref, got):
            np.testing.assert_array_equal(a, b)


def test_a_damaged_last_checkpoint_falls_back_and_training_resumes(reference, tokenizer_dir, tmp_path, capfd):
    """A truncated weight file in the last checkpoint: the trainer says so, sets it aside, resumes from the one
    before and ends where the uninterrupted run did (tests/test_checkpoint_damage.py covers the other damage)."""
    ref_model, ref_dir = reference
    shutil.copytree(ref_dir / "latents", tmp_path / "latents")
    shutil.copytree(ref_dir / "checkpoints", tmp_path / "checkpoints")
    last = RUN["steps"]
    weights = max((tmp_path / "checkpoints" / str(last) / "state" / "ocdbt.process_0" / "d").iterdir(),
                  key=lambda p: p.stat().st_size)
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    resumed = train(tiny(tokenizer_dir), tmp_path, quiet=True)
    err = capfd.readouterr().err
    assert f"checkpoint {last} in {tmp_path / 'checkpoints'} is damaged" in err
    assert f"resuming from step {last - RUN['save_every']} " in err
    assert (tmp_path / "checkpoints" / f"{last}.damaged").is_dir()
    for a, b in zip(jax.tree.leaves(nnx.state(ref_model, nnx.Param)), jax.tree.leaves(nnx.state(resumed, nnx.Param))):
        np.testing.assert_array_equal(a, b)


@pytest.fixture(scope="module")
def video_folder(tmp_path_factory):
    """Three push clips with captions and actions, one bouncing-balls clip with neither."""
    root = tmp_path_factory.mktemp("videos")
    # The shapes the latent dataset already sampled (32x32, 6 frames, 8 clips): no new world compiles.
    ep = ws.worlds.make("push", resolution=32, num_frames=6).sample(jax.random.key(0), 8)
    for i in range(3):
        ws.io.write_video(root / f"push{i}.gif", ep.frames[i])
        (root / f"push{i}.txt").write_text(f"clip {i}: a ball is pushed")
        np.save(root / f"push{i}.actions.npy", np.asarray(ep.actions[i]))
    plain = ws.worlds.make("bouncing_balls", resolution=32, num_frames=6).sample(jax.random.key(1), 8)
    ws.io.write_video(root / "plain.gif", plain.frames[0])
    return root


def data_frames(folder):
    """The first 3 frames of the folder's plain clip (a start for the simulator)."""
    return ws.io.read_video(folder / "plain.gif")[:3]


def test_training_on_a_video_folder(tokenizer_dir, tokenizer, video_folder, worlds_data, tmp_path):
    cfg = tiny(tokenizer_dir, worlds=(), video_folder=str(video_folder), save_every=30, val_every=30,
               sample_every=30)
    model = train(cfg, tmp_path, quiet=True)
    data = LatentDataset.load(tmp_path / "latents" / "videos.npz")
    assert len(data) == cfg.video_clips and data.sources == ("videos",) and not data.has_state.any()
    captions = {data.caption(i) for i in range(len(data))}
    assert captions <= {None, "clip 0: a ball is pushed", "clip 1: a ball is pushed", "clip 2: a ball is pushed"}
    for i in range(len(data)):  # no caption <=> no actions <=> the plain clip
        assert (data.caption(i) is None) == (not data.has_actions[i])
        assert data.has_actions[i] or not data.actions[i].any()
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert all(line["state_loss"] == 0.0 for line in lines)  # no ground-truth state: no state loss
    last = lines[-1]
    assert {"val_loss", "val_next_mse", "val_copy_mse", "val_extrap_mse"} <= set(last)
    video = ws.io.read_video(tmp_path / "videos" / "sample_0000030.mp4")
    assert video.shape == (cfg.clip_frames, 32, 64, 3)  # ground truth | generated
    events = read_events(tmp_path / "tb")  # TensorBoard: grouped tags, the sample as images of held-out clips
    assert {"train/loss", "train/lr", "val/loss", "val/next_mse", "perf/frames_per_s"} <= set(events)
    assert [step for step, _ in events["val/sample"]] == [30] and "val/sample_video" in events
    assert isinstance(model, DynamicsModel)
    # The folder's clips and the worlds' concatenate into one training set.
    both = concat([worlds_data, data])
    assert len(both) == len(worlds_data) + len(data) and both.sources == WORLDS + ("videos",)
    assert list(both.source[len(worlds_data):]) == [2] * len(data)
    # Its state head never saw a label: the export says so, and the loaded model has no readout (not noise).
    assert json.loads((tmp_path / "model" / "config.json").read_text())["state_labels"] == 0
    loaded = ws.load(tmp_path / "model")
    assert not loaded.has_state_head and loaded.untrained_state_head and loaded.dynamics.state_head is None
    assert "never trained on labelled clips" in loaded.no_readout
    state = ws.sim.init(loaded, jax.random.key(0), None, data_frames(video_folder))
    _, out = ws.sim.step(loaded, state, np.zeros(2, np.float32), jax.random.key(1), decode=False)
    assert out.readout is None and ws.sim.readout(loaded, state) is None
    with pytest.raises(ValueError, match="state head was never trained on labelled clips: train with worlds, or "
                                         "use a task without a readout"):
        WorldSimEnv(model=loaded)  # the default task (ReachGoal) reads the readout
    with pytest.raises(ValueError, match="never trained on labelled clips"):
        ws.Simulator(loaded, terminal_fn=lambda r: r.present[0] > 0.5)
    with pytest.raises(ValueError, match="never trained on labelled clips"):
        learned_planner(loaded, CEMConfig())
    again = export_world(loaded, tmp_path / "bundle")  # re-exported, it still says why
    assert ws.load(again).untrained_state_head


def test_a_nan_loss_stops_training_before_any_checkpoint(reference, tokenizer_dir, tmp_path):
    _, ref_dir = reference
    shutil.copytree(ref_dir / "latents", tmp_path / "latents")
    poisoned = LatentDataset.load(tmp_path / "latents" / "worlds.npz")
    poisoned.latents[:] = np.nan  # same fingerprint, so the run trusts this cache
    poisoned.save(tmp_path / "latents" / "worlds.npz")
    with pytest.raises(FloatingPointError, match="non-finite loss=nan at step 1"):
        train(tiny(tokenizer_dir), tmp_path, quiet=True)
    assert not saved_steps(tmp_path / "checkpoints")


# ----- export / load, bad input -----


def test_export_load_round_trip(reference, tmp_path):
    model, _ = reference
    export_dynamics(model, tmp_path / "dyn", {"note": 1})
    again = load_dynamics(tmp_path / "dyn")
    assert again.config == model.config
    for a, b in zip(jax.tree.leaves(nnx.state(model, nnx.Param)), jax.tree.leaves(nnx.state(again, nnx.Param))):
        np.testing.assert_array_equal(a, b)


def test_bad_checkpoints_are_refused(reference, tokenizer_dir, tmp_path):
    model, _ = reference
    with pytest.raises(FileNotFoundError, match="no dynamics model"):
        load_dynamics(tmp_path / "missing")
    with pytest.raises(ValueError, match="not a dynamics model"):
        load_dynamics(tokenizer_dir)
    export_dynamics(model, tmp_path / "dyn")
    meta = json.loads((tmp_path / "dyn" / "config.json").read_text())
    meta["model"]["d_model"] = 64
    (tmp_path / "dyn" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="different dynamics config"):
        load_dynamics(tmp_path / "dyn")
    meta["model"]["colour_space"] = "hsv"
    (tmp_path / "dyn" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="does not match this version"):
        load_dynamics(tmp_path / "dyn")


def test_bad_configs_and_paths(reference, tokenizer_dir, tokenizer, tmp_path, monkeypatch):
    base = tiny(tokenizer_dir)
    for kw, match in [
        (dict(clip_frames=3), "must exceed the model's window"),
        (dict(text_dropout=1.0), "text_dropout"),
        (dict(worlds=()), "nothing to train on"),
        (dict(worlds=("bouncing_ball",)), "unknown world"),
        (dict(worlds=("gravity+wind",)), r"flags are \+occluder, \+idle"),
        (dict(seed=HELD_OUT_SEED), "training seeds"),
        (dict(lr=0.0), "learning rate"),
        (dict(latent_dtype="bf16"), "latent_dtype"),
        (dict(batch_size=0), "batch_size"),
    ]:
        with pytest.raises(ValueError, match=match):
            base.replace(**kw)
    with pytest.raises(ValueError, match=r"takes 8x8x16 latents but tokenizer .* makes 4x4x8"):
        train(base.replace(model=base.model.replace(grid=8, latent_dim=16)), tmp_path / "a", quiet=True)
    with pytest.raises(FileNotFoundError, match="no tokenizer"):
        train(base.replace(tokenizer=str(tmp_path / "nope")), tmp_path / "b", quiet=True)
    _, workdir = reference
    with pytest.raises(ValueError, match=r"different config \(differs in: text_dropout: 0\.\d+ -> 0\.3\)"):
        train(base.replace(text_dropout=0.3), workdir, quiet=True)
    with pytest.raises(ValueError, match=r"differs in: model\.flow_steps: 4 -> 3; steps: .*change only --steps"):
        train(base.replace(model=base.model.replace(flow_steps=3), steps=base.steps + 5), workdir, quiet=True)
    with monkeypatch.context() as mp:  # the tokenizer at the same path was retrained since the run began
        mp.setattr("worldsim.train.dynamics.tokenizer_fingerprint", lambda tok: "retrained")
        with pytest.raises(ValueError, match="changed since"):
            train(base, workdir, quiet=True)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        LatentDataset.from_video_folder(tokenizer, tmp_path / "nope", 2, 6)
    bad = tmp_path / "bad"
    bad.mkdir()
    ws.io.write_video(bad / "a.gif", np.zeros((8, 32, 32, 3), np.uint8))
    np.save(bad / "a.actions.npy", np.zeros((8, 3), np.float32))
    with pytest.raises(ValueError, match="3-D actions but the model takes 2"):
        LatentDataset.from_video_folder(tokenizer, bad, 2, 6, **{k: v for k, v in DATA.items() if k != "num_frames"})
    assert DynamicsTrainConfig.from_dict(json.loads(json.dumps(base.to_dict()))) == base


def test_cli_train_dynamics(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        cli_main(["train", "dynamics", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "dynamics" in out and "--tokenizer" in out and "--video-folder" in out
    assert "--init" in out and "--self-rollout" in out
    with pytest.raises(SystemExit) as e:
        cli_main(["train", "tokenizer", "--workdir", str(tmp_path), "--self-rollout", "2"])
    assert e.value.code == 2 and "are for `worldsim train dynamics`" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        cli_main(["train", "dynamics", "--preset", "tiny", "--workdir", str(tmp_path), "--tokenizer",
                  str(tmp_path / "nope")])
    assert e.value.code == 2 and "no tokenizer" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        cli_main(["train", "dynamics", "--workdir", str(tmp_path), "--videos-only"])
    assert e.value.code == 2 and "--videos-only needs --video-folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        cli_main(["train", "dynamics", "--workdir", str(tmp_path), "--clips", "40"])
    assert e.value.code == 2 and "--clips 40: use a positive number of windows, with --video-folder" in \
        capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        cli_main(["train", "tokenizer", "--workdir", str(tmp_path), "--clips", "40"])
    assert e.value.code == 2 and "--clips are for `worldsim train dynamics`" in capsys.readouterr().err


# ----- the rollout recipe: self-rollouts, fine-tuning from an export -----


def test_self_rollouts_train_on_plain_videos_from_an_export(reference, tokenizer_dir, video_folder, tmp_path):
    """The recipe (self-rollouts and per-frame context noise on, started from an exported model without a noise
    embedding) trains on a folder of plain videos with no states: it starts from the export's weights, and its loss
    stays finite."""
    ref_model, _ = reference
    export_dynamics(ref_model, tmp_path / "base")
    model_cfg = DynamicsTrainConfig.tiny().model.replace(noise_embed=True)  # per-frame noise levels, told to it
    cfg = tiny(tokenizer_dir, model=model_cfg, worlds=(), video_folder=str(video_folder), self_rollout=2,
               self_rollout_share=1.0, init=str(tmp_path / "base"), steps=RUN["steps"] + 5, save_every=35,
               context_noise=0.05, frame_noise=True)
    model = train(cfg, tmp_path / "run", quiet=True)
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert lines and all(np.isfinite(x["loss"]) and x["state_loss"] == 0.0 for x in lines)
    # A fine-tune moves the weights a little from the export, not back to a fresh start.
    fresh = DynamicsModel(cfg.model, rngs=nnx.Rngs(cfg.seed))
    shared = lambda m: np.concatenate([np.ravel(x) for k, x in sorted(  # noqa: E731
        flatten_tree(nnx.to_pure_dict(nnx.state(m, nnx.Param))).items()) if not k.startswith("noise_level")])
    got, base, new = shared(model), shared(ref_model), shared(fresh)
    assert np.linalg.norm(got - base) < 0.5 * np.linalg.norm(got - new)


def test_more_steps_extend_a_finished_run(reference, tokenizer_dir, tmp_path, capfd):
    """Raising only --steps on a finished run resumes it to the new length and says so; fewer steps than it holds
    are refused with the fix."""
    import shutil

    _, workdir = reference
    cfg = tiny(tokenizer_dir)
    copy = tmp_path / "run"
    shutil.copytree(workdir, copy)
    capfd.readouterr()
    train(cfg.replace(steps=cfg.steps + 4), copy, quiet=True)
    err = capfd.readouterr().err
    assert f"extending the run in {copy} from {cfg.steps} to {cfg.steps + 4} steps" in err, err
    assert f"resuming from step {cfg.steps}" in err
    assert Checkpointer(copy / "checkpoints").latest_step() == cfg.steps + 4
    with pytest.raises(ValueError, match=rf"already holds step {cfg.steps + 4}: pass --steps above"):
        train(cfg.replace(steps=cfg.steps - 10), copy, quiet=True)
