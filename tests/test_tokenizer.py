"""Tokenizer: causality, shapes, checkpoint round trips, tiny training, kill-and-resume, bad input."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import worldsim as ws
from killing import kill_after_checkpoint
from worldsim.tokenizer import Tokenizer, TokenizerConfig
from worldsim.tokenizer.load import export, load
from worldsim.train.checkpoint import Checkpointer
from worldsim.train.tokenizer import TokenizerTrainConfig, make_optimizer, train

TINY = TokenizerConfig.tiny()


@pytest.fixture(scope="module")
def clip():
    return ws.worlds.make("bouncing_balls", resolution=TINY.resolution, num_frames=6).sample(jax.random.key(0), 2).frames


@pytest.fixture(scope="module")
def model():
    m = Tokenizer(TINY, rngs=nnx.Rngs(1))
    # Randomise the zero-initialised convs so the test model is not the identity on any branch.
    state = nnx.state(m, nnx.Param)
    keys = iter(jax.random.split(jax.random.key(3), len(jax.tree.leaves(state))))
    nnx.update(m, jax.tree.map(lambda p: p + 0.1 * jax.random.normal(next(keys), p.shape), state))
    return m


def test_shapes_dtypes_and_compression(model, clip):
    z = model.encode(clip)
    assert z.shape == (2, 6, TINY.grid, TINY.grid, TINY.latent_dim) and z.dtype == jnp.float32
    out = model.decode(z)
    assert out.shape == clip.shape and out.dtype == jnp.uint8
    assert TokenizerConfig.small().tokens_per_frame <= 64
    assert TokenizerConfig.small().compression == 64 * 64 * 3 / (64 * 16)


def test_causal_in_time(model, clip):
    full = model.encode(clip)
    for t in (1, 3):
        np.testing.assert_allclose(model.encode(clip[:, :t]), full[:, :t], atol=1e-5)
    changed = clip.at[:, 4].set(255 - clip[:, 4])
    z2 = model.encode(changed)
    np.testing.assert_allclose(z2[:, :4], full[:, :4], atol=1e-5)
    assert not np.allclose(z2[:, 4], full[:, 4])  # the changed frame does matter
    assert not np.allclose(z2[:, 5], full[:, 5])  # ... and the next latent sees it (one frame of context)


def test_fsq_latents_lie_on_the_grid(clip):
    cfg = TINY.replace(quantizer="fsq", latent_dim=4, fsq_levels=(5, 5, 4, 4))
    z = Tokenizer(cfg, rngs=nnx.Rngs(0)).encode(clip)
    half = np.array([2, 2, 2, 2], np.float32)
    scaled = np.asarray(z) * half  # odd levels: integers in [-2, 2]; even levels: half-integers shifted
    assert np.allclose(scaled[..., :2], np.round(scaled[..., :2]), atol=1e-5)
    assert len(np.unique(np.round(scaled[..., 2:] * 2))) <= 4


def test_export_load_round_trip(model, clip, tmp_path):
    export(model, tmp_path / "tok")
    again = load(tmp_path / "tok")
    np.testing.assert_array_equal(again.encode(clip), model.encode(clip))


def test_incompatible_checkpoint_is_refused(model, tmp_path):
    export(model, tmp_path / "tok")
    meta = json.loads((tmp_path / "tok" / "config.json").read_text())
    meta["model"]["latent_dim"] = 12
    (tmp_path / "tok" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="different tokenizer config"):
        load(tmp_path / "tok")
    with pytest.raises(FileNotFoundError, match="no tokenizer"):
        load(tmp_path / "missing")


def test_checkpointer_round_trips_model_and_optimizer(model, tmp_path):
    cfg = TokenizerTrainConfig.tiny()
    opt = make_optimizer(cfg, model)
    ck = Checkpointer(tmp_path / "ck")
    ck.save(7, {"model": model, "opt": opt}, {"hello": 1})
    fresh = Tokenizer(TINY, rngs=nnx.Rngs(99))
    fresh_opt = make_optimizer(cfg, fresh)
    assert ck.latest_step() == 7 and ck.restore(7, {"model": fresh, "opt": fresh_opt}) == {"hello": 1}
    for a, b in zip(jax.tree.leaves(nnx.state(model)), jax.tree.leaves(nnx.state(fresh))):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(jax.tree.leaves(nnx.state(opt)), jax.tree.leaves(nnx.state(fresh_opt))):
        np.testing.assert_array_equal(a, b)
    ck.close()


RESUME_CFG = dict(steps=30, save_every=5, log_every=5)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """An uninterrupted tiny run (also the reference for kill-and-resume)."""
    workdir = tmp_path_factory.mktemp("tok_full")
    cfg = TokenizerTrainConfig.tiny()
    cfg = TokenizerTrainConfig(**{**cfg.__dict__, **RESUME_CFG})
    return train(cfg, workdir, quiet=True), workdir


def test_tiny_training_lowers_the_loss(trained):
    _, workdir = trained
    lines = [json.loads(x) for x in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert lines[-1]["loss"] < 0.5 * lines[0]["loss"]
    assert (workdir / "tb").is_dir() and any((workdir / "tb").iterdir())
    assert {"loss", "psnr", "lr", "frames_per_s"} <= set(lines[-1])


def test_sigkill_and_resume_gives_identical_parameters(trained, tmp_path):
    reference, _ = trained
    script = textwrap.dedent(f"""
        from worldsim.train.tokenizer import TokenizerTrainConfig, train
        cfg = TokenizerTrainConfig.tiny()
        cfg = TokenizerTrainConfig(**{{**cfg.__dict__, **{RESUME_CFG!r}}})
        train(cfg, {str(tmp_path)!r}, quiet=True)
    """)
    killed_at = kill_after_checkpoint(script, tmp_path / "checkpoints", min_step=10)
    assert killed_at < RESUME_CFG["steps"]
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=300)
    resumed = load(tmp_path / "model")
    for a, b in zip(jax.tree.leaves(nnx.state(reference, nnx.Param)), jax.tree.leaves(nnx.state(resumed, nnx.Param))):
        np.testing.assert_array_equal(a, b)


def test_a_damaged_last_checkpoint_falls_back_and_training_resumes(trained, tmp_path, capfd):
    """Flipped bytes in the last checkpoint's weights: the trainer says so, sets it aside, resumes from the one
    before and ends where the uninterrupted run did (tests/test_checkpoint_damage.py covers the other damage)."""
    reference, workdir = trained
    shutil.copytree(workdir / "checkpoints", tmp_path / "checkpoints")
    last = RESUME_CFG["steps"]
    weights = max((tmp_path / "checkpoints" / str(last) / "state" / "ocdbt.process_0" / "d").iterdir(),
                  key=lambda p: p.stat().st_size)
    data = bytearray(weights.read_bytes())
    data[len(data) // 2:] = bytes(b ^ 0xFF for b in data[len(data) // 2:])
    weights.write_bytes(bytes(data))
    cfg = TokenizerTrainConfig(**{**TokenizerTrainConfig.tiny().__dict__, **RESUME_CFG})
    resumed = train(cfg, tmp_path, quiet=True)
    err = capfd.readouterr().err
    before = last - RESUME_CFG["save_every"]
    assert f"checkpoint {last} in {tmp_path / 'checkpoints'} is damaged" in err
    assert f"resuming from step {before} " in err and (tmp_path / "checkpoints" / f"{last}.damaged").is_dir()
    for a, b in zip(jax.tree.leaves(nnx.state(reference, nnx.Param)), jax.tree.leaves(nnx.state(resumed, nnx.Param))):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "frames, match",
    [
        (np.zeros((32, 32, 3), np.uint8), r"\(B, T, H, W, 3\)"),
        (np.zeros((1, 2, 24, 24, 3), np.uint8), "takes 32x32"),
        (np.full((1, 2, 32, 32, 3), 2.0, np.float32), r"lie in \[0, 1\]"),
        (np.zeros((1, 2, 32, 32, 3), np.int32), "must be uint8"),
    ],
)
def test_bad_frames(model, frames, match):
    with pytest.raises(ValueError, match=match):
        model.encode(frames)


def test_bad_latents(model):
    with pytest.raises(ValueError, match="latents must be"):
        model.decode(jnp.zeros((1, 2, 3, 3, TINY.latent_dim)))


def test_bad_configs():
    with pytest.raises(ValueError, match="not divisible"):
        TokenizerConfig(resolution=60, patch=8)
    with pytest.raises(ValueError, match="fsq"):
        TokenizerConfig(quantizer="fsq", latent_dim=3)


def test_cli_training_names_only_logs_that_exist(tmp_path, capsys):
    """The end-of-run line points at the export and at the log files the run really wrote. The run's --set settings
    reach it (train_config.json), and its reconstructions reach TensorBoard as images under train/."""
    import re

    from tbtools import read_events

    from worldsim.cli import main as cli_main

    cli_main(["train", "tokenizer", "--preset", "tiny", "--workdir", str(tmp_path), "--steps", "2",
              "--set", "video_every=2", "--set", "log_every=1", "--set", "lr=2e-3", "--set", "clip_frames=3"])
    out = capsys.readouterr()
    assert "settings beside the tiny preset: clip_frames=3 steps=2 lr=0.002 log_every=1 video_every=2" in out.err
    saved = json.loads((tmp_path / "train_config.json").read_text())
    assert (saved["lr"], saved["log_every"], saved["clip_frames"], saved["video_every"]) == (2e-3, 1, 3, 2)
    events = read_events(tmp_path / "tb")
    assert [s for s, _ in events["train/loss"]] == [1, 2] and "perf/steps_per_s" in events
    assert events["train/recon"][0][1].encoded_image_string.startswith(b"\x89PNG")
    assert events["train/recon_video"][0][1].encoded_image_string.startswith(b"GIF8")
    line = [x for x in out.out.splitlines() if x.startswith("trained tokenizer exported to")][-1]
    assert f"exported to {tmp_path / 'model'}" in line and (tmp_path / "model" / "config.json").exists()
    named = re.search(r"logs in .*?: (.*)\)$", line).group(1).split(", ")
    assert named and all((tmp_path / n.rstrip("/")).exists() for n in named), line
