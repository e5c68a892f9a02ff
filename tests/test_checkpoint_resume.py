"""Resuming a run: the same settings resume, more steps extend, anything else is refused by name."""

import pytest

from worldsim.train.checkpoint import check_resumable

OLD = {"steps": 40, "lr": 0.001, "model": {"flow_steps": 4, "d_model": 32}, "worlds": ["push"]}


def test_the_same_settings_resume_silently():
    assert check_resumable(OLD, dict(OLD), "runs/a", 40) is None


def test_more_steps_extend_and_say_so():
    note = check_resumable(OLD, {**OLD, "steps": 60}, "runs/a", 40)
    assert note.startswith("extending the run in runs/a from 40 to 60 steps, resuming at step 40")


def test_no_more_steps_than_saved_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="already holds step 40: pass --steps above 40"):
        check_resumable(OLD, {**OLD, "steps": 30}, "runs/a", 40)


def test_other_settings_are_named_with_their_values():
    want = {**OLD, "lr": 0.01, "model": {"flow_steps": 2, "d_model": 32}, "steps": 60}
    with pytest.raises(ValueError, match=r"differs in: lr: 0\.001 -> 0\.01; model\.flow_steps: 4 -> 2; "
                                         r"steps: 40 -> 60\); use a new --workdir, the same settings, or change "
                                         r"only --steps"):
        check_resumable(OLD, want, "runs/a", 40)
    with pytest.raises(ValueError, match=r"worlds: \['push'\] -> \['gravity'\]"):
        check_resumable(OLD, {**OLD, "worlds": ["gravity"]}, "runs/a", 40)
    with pytest.raises(ValueError, match=r"new_setting: None -> 3"):  # a checkpoint from before a setting existed
        check_resumable(OLD, {**OLD, "new_setting": 3}, "runs/a", 40)
