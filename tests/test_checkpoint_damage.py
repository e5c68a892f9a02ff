"""Training checkpoints that fall back: a damaged latest checkpoint is named, moved aside, and the newest intact one
resumed (as both trainers resume: latest_step, then restore); a junk top-level config is one line naming the fix.
A small Linear and its Adam state stand in for a model: the damage and the checks do not depend on the model."""

import gc
import json
import shutil

import numpy as np
import optax
import pytest
from flax import nnx

from worldsim.train.checkpoint import SUMS, Checkpointer, read_config

# A failed orbax restore leaves coroutines and callbacks behind that Python reports when they are collected, often
# in a later test (so the tests that fail one collect at once): expected here, where restores are made to fail.
pytestmark = [pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
              pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")]


def objects(seed: int) -> dict:
    model = nnx.Linear(64, 64, rngs=nnx.Rngs(seed))
    return {"model": model, "opt": nnx.Optimizer(model, optax.adam(1e-3), wrt=nnx.Param)}


def kernel(objs) -> np.ndarray:
    return np.asarray(objs["model"].kernel[...])


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Steps 1 and 2, saved once: each test damages its own copy."""
    root = tmp_path_factory.mktemp("saved") / "checkpoints"
    ck = Checkpointer(root)
    for step in (1, 2):
        ck.save(step, objects(step), {"train": {"lr": 1e-3}, "step": step})
    ck.close()
    return root


@pytest.fixture
def ckdir(saved, tmp_path):
    return shutil.copytree(saved, tmp_path / "checkpoints")


def largest_array_file(step_dir):
    return max((p for p in (step_dir / "state").rglob("*") if p.is_file() and p.parent.name == "d"
                and "ocdbt.process_" in str(p)), key=lambda p: p.stat().st_size)


def truncate(d):
    p = largest_array_file(d)
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def flip_bytes(d):
    p = largest_array_file(d)
    data = bytearray(p.read_bytes())
    mid = len(data) // 2
    data[mid: mid + 4096] = bytes(b ^ 0xFF for b in data[mid: mid + 4096])
    p.write_bytes(bytes(data))


def empty_state(d):
    shutil.rmtree(d / "state")
    (d / "state").mkdir()


def delete_metadata(d):
    (d / "_CHECKPOINT_METADATA").unlink()


def delete_commit_marker(d):
    (d / "commit_success.txt").unlink()


def junk_step_config(d):
    (d / "config" / "metadata").write_text("{not json")


def resume(ckdir):
    """What a trainer does on start: open, take the latest step, restore it into fresh objects."""
    ck = Checkpointer(ckdir)
    step = ck.latest_step()
    fresh = objects(99)
    config = ck.restore(step, fresh) if step else None
    ck.close()
    return step, config, fresh


@pytest.mark.parametrize("damage", [truncate, flip_bytes, empty_state, delete_metadata, delete_commit_marker,
                                    junk_step_config])
def test_a_damaged_latest_checkpoint_falls_back_to_the_one_before(ckdir, damage, capfd):
    damage(ckdir / "2")
    step, config, fresh = resume(ckdir)
    assert step == 1 and config["step"] == 1
    np.testing.assert_array_equal(kernel(fresh), kernel(objects(1)))
    err = capfd.readouterr().err.splitlines()
    said = [x for x in err if " is damaged " in x]
    assert len(said) == 1 and said[0].startswith(f"checkpoint 2 in {ckdir} is damaged") and "2.damaged" in said[0]
    assert f"resuming from step 1 ({ckdir / '1'})" in err
    assert (ckdir / "2.damaged").is_dir() and not (ckdir / "2").exists()


def test_junk_top_level_config_is_one_line_naming_the_fix(ckdir):
    for junk in ("{not json", "", "[1, 2]"):
        (ckdir / "config.json").write_text(junk)
        for open_it in (Checkpointer, read_config):
            with pytest.raises(ValueError, match=r"config.json is damaged .*delete it and run again") as e:
                open_it(ckdir)
            assert "\n" not in str(e.value)
    (ckdir / "config.json").unlink()  # the fix works: the run resumes from its latest checkpoint
    assert resume(ckdir)[0] == 2


def test_an_intact_checkpoint_resumes_and_says_so(ckdir, capfd):
    step, config, fresh = resume(ckdir)
    assert step == 2 and config == {"train": {"lr": 1e-3}, "step": 2}
    np.testing.assert_array_equal(kernel(fresh), kernel(objects(2)))
    err = capfd.readouterr().err
    assert f"resuming from step 2 ({ckdir / '2'})" in err and " is damaged " not in err
    sums = json.loads((ckdir / "2" / SUMS).read_text())
    assert "commit_success.txt" in sums and any(k.startswith("state/ocdbt.process_0/d/") for k in sums)


def test_every_damaged_checkpoint_goes_and_twice_damaged_keeps_both(ckdir, capfd):
    flip_bytes(ckdir / "2")
    junk_step_config(ckdir / "1")
    assert resume(ckdir)[0] is None  # nothing intact: a fresh start (the damaged ones are kept)
    assert "training starts again from step 0" in capfd.readouterr().err
    assert sorted(p.name for p in ckdir.iterdir() if p.is_dir()) == ["1.damaged", "2.damaged"]
    shutil.copytree(ckdir / "2.damaged", ckdir / "2")  # damaged again at the same step: the first copy stays
    Checkpointer(ckdir).close()
    assert (ckdir / "2.damaged2").is_dir() and (ckdir / "2.damaged").is_dir()


def test_a_checkpoint_from_before_checksums_still_resumes(ckdir):
    for step in (1, 2):
        (ckdir / str(step) / SUMS).unlink()
    assert resume(ckdir)[0] == 2
    truncate(ckdir / "2")  # undetectable without checksums: restoring it fails in one line that names the fix
    ck = Checkpointer(ckdir)
    with pytest.raises(ValueError, match=r"checkpoint 2 in .* could not be restored .*rename 2 to 2.damaged") as e:
        ck.restore(ck.latest_step(), objects(5))
    ck.close()
    gc.collect()  # what the failed restore left behind is reported now, under this module's filter
    assert "\n" not in str(e.value) and len(str(e.value)) < 600 and e.value.__cause__ is None
    (ckdir / "2" / "config" / "metadata").unlink()  # the checks that need no checksums still catch a missing file
    assert resume(ckdir)[0] == 1
