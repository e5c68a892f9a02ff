"""Training data: the deterministic world mixture and a folder of the user's own videos."""

import jax
import numpy as np
import pytest

import worldsim as ws
from worldsim.data import HELD_OUT_SEED, VideoFolder, WorldMixture


def test_mixture_is_deterministic_per_batch_index():
    mix = WorldMixture(("bouncing_balls", "push+occluder"), resolution=32, num_frames=3, clips_per_world=2)
    a, b, c = mix.frames(5), mix.frames(5), mix.frames(6)
    assert a.shape == (4, 3, 32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    with pytest.raises(ValueError, match="held out"):
        WorldMixture(("gravity",), seed=HELD_OUT_SEED)
    with pytest.raises(ValueError, match=r"flags are \+occluder, \+idle"):
        WorldMixture(("gravity+wind",))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Three gif clips from the push world with captions and actions, plus one too-short clip."""
    root = tmp_path_factory.mktemp("videos")
    ep = ws.worlds.make("push", resolution=32, num_frames=12).sample(jax.random.key(0), 3)
    for i in range(3):
        ws.io.write_video(root / f"clip{i}.gif", ep.frames[i])
        (root / f"clip{i}.txt").write_text(ep.captions[i])
        np.save(root / f"clip{i}.actions.npy", np.asarray(ep.actions[i]))
    ws.io.write_video(root / "short.gif", ep.frames[0, :3])
    (root / "notes.md").write_text("not a video")
    return root, ep


def test_video_folder_reads_clips_captions_actions(folder):
    root, ep = folder
    vf = VideoFolder(root, resolution=32, num_frames=8)
    assert len(vf) == 3 and vf.action_dim == 2 and vf.skipped == ["short.gif (3 frames)"]
    b = vf.batch(0, 5, seed=1)
    assert b["frames"].shape == (5, 8, 32, 32, 3) and b["frames"].dtype == np.uint8
    assert b["actions"].shape == (5, 8, 2) and all(c in ep.captions for c in b["captions"])
    assert np.array_equal(vf.batch(0, 5, seed=1)["frames"], b["frames"])
    # gif is near lossless for flat colours: the clip comes back close to what was written
    assert np.abs(vf.clips[0].frames.astype(int) - np.asarray(ep.frames[0]).astype(int)).mean() < 3


def test_video_folder_resizes_and_says_so(folder):
    root, _ = folder
    vf = VideoFolder(root, resolution=16, num_frames=4)
    assert vf.batch(0, 1)["frames"].shape == (1, 4, 16, 16, 3)
    assert vf.describe() == ("3 videos (36 frames, 32x32) resized to the model's 16x16; skipped, shorter than 4 "
                             "frames: short.gif (3 frames)")
    same = VideoFolder(root, resolution=32, num_frames=8).describe()
    assert same == "3 videos (36 frames, 32x32); skipped, shorter than 8 frames: short.gif (3 frames)"


def test_video_folder_bad_input(folder, tmp_path):
    root, _ = folder
    with pytest.raises(FileNotFoundError, match="does not exist"):
        VideoFolder(tmp_path / "nope", 32, 4)
    with pytest.raises(ValueError, match="no .mp4 or .gif"):
        VideoFolder(tmp_path, 32, 4)
    with pytest.raises(ValueError, match="shorter than 40 frames"):
        VideoFolder(root, 32, 40)
    bad = tmp_path / "bad"
    bad.mkdir()
    ws.io.write_video(bad / "a.gif", np.zeros((6, 16, 16, 3), np.uint8))
    np.save(bad / "a.actions.npy", np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"expected \(6, A\)"):
        VideoFolder(bad, 16, 4)


def test_tokenizer_trains_on_a_video_folder(folder, tmp_path):
    from worldsim.train.tokenizer import TokenizerTrainConfig, train

    root, _ = folder
    cfg = TokenizerTrainConfig.tiny()
    cfg = TokenizerTrainConfig(**{**cfg.__dict__, "worlds": (), "video_folder": str(root), "steps": 12,
                                  "log_every": 4, "save_every": 12})
    model = train(cfg, tmp_path / "run", quiet=True)
    import json

    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert lines[-1]["loss"] < lines[0]["loss"]
    assert model.encode(np.zeros((1, 2, 32, 32, 3), np.uint8)).shape[:2] == (1, 2)
