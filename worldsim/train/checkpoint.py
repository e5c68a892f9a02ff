"""Checkpoints: orbax CheckpointManager holding {model, opt, step} pure dicts plus config.json beside them.

A checkpoint directory is self-describing: `config.json` says which model it holds, so it loads without any
training code (see `load_model_state`).

Each step folder also holds SUMS, the sha256 of its files, written once orbax has committed it. Opening the
directory checks the newest checkpoints against theirs: a damaged one (truncated or flipped bytes, files missing,
junk config) is renamed to `<step>.damaged` with one line saying so, so `latest_step` is the newest intact one and
both trainers fall back to it unchanged. orbax checks none of this: flipped bytes restore as wrong weights.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp
from flax import nnx

from worldsim.io.checksums import file_checksums, first_damaged
from worldsim.io.params import first_line, read_json_object
from worldsim.train import hosts

SUMS = "worldsim_sha256.json"  # in each step folder: {relative path: sha256} of every other file there
TOP_FIX = ("it only repeats the latest checkpoint's config: delete it and run again (the next checkpoint writes it "
           "anew)")


def _str_keys(tree):
    """orbax wants string keys; nnx optimizer state has int keys (0, 1, ... for chained transforms)."""
    if isinstance(tree, dict):
        return {str(k): _str_keys(v) for k, v in tree.items()}
    return tree


def _orig_keys(like, tree):
    if isinstance(like, dict):
        return {k: _orig_keys(v, tree[str(k)]) for k, v in like.items()}
    return tree


class Checkpointer:
    """Save / restore nnx objects by step under `directory` (keeps the newest `max_to_keep`)."""

    def __init__(self, directory: str | Path, max_to_keep: int = 2):
        self.directory = Path(directory).absolute()
        self.directory.mkdir(parents=True, exist_ok=True)
        if (self.directory / "config.json").is_file():  # junk here is one line naming the fix, before any training
            read_json_object(self.directory / "config.json", TOP_FIX)
        if hosts.is_main():  # one process checks and renames; the others wait, then all list the same steps
            remove_unfinished(self.directory)
            set_aside_damaged(self.directory)
        hosts.barrier("worldsim-checkpoints-checked")
        options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, enable_async_checkpointing=False, create=True)
        self._mgr = ocp.CheckpointManager(self.directory, options=options)

    def latest_step(self) -> int | None:
        return self._mgr.latest_step()

    def save(self, step: int, objects: dict[str, Any], config: dict) -> None:
        state = {name: _str_keys(nnx.to_pure_dict(nnx.state(obj))) for name, obj in objects.items()}
        self._mgr.save(
            step,
            args=ocp.args.Composite(state=ocp.args.StandardSave(state), config=ocp.args.JsonSave(config)),
        )
        self._mgr.wait_until_finished()
        if jax.process_index() == 0:  # every process writes its shards (above); one hashes them and writes the config
            step_dir = self.directory / str(step)
            _write_json(step_dir / SUMS, file_checksums(step_dir, skip=(SUMS,)))
            _write_json(self.directory / "config.json", config)

    def restore(self, step: int, objects: dict[str, Any]) -> dict:
        """Load step `step` into the given nnx objects in place; returns the saved config."""
        pure = {name: nnx.to_pure_dict(nnx.state(obj)) for name, obj in objects.items()}
        target = jax.tree.map(ocp.utils.to_shape_dtype_struct, _str_keys(pure))
        try:
            out = self._mgr.restore(
                step, args=ocp.args.Composite(state=ocp.args.StandardRestore(target), config=ocp.args.JsonRestore())
            )
        except Exception as e:  # noqa: BLE001 - orbax/TensorStore raise many kinds, some thousands of lines long
            raise ValueError(
                f"checkpoint {step} in {self.directory} could not be restored ({first_line(e)}): if the run's "
                f"settings changed, use a new --workdir or the same settings; if its files are damaged, rename "
                f"{step} to {step}.damaged to resume from the checkpoint before") from None
        for name, obj in objects.items():
            state = nnx.state(obj)
            nnx.replace_by_pure_dict(state, _orig_keys(pure[name], out.state[name]))
            nnx.update(obj, state)
        _say(f"resuming from step {step} ({self.directory / str(step)})")
        return dict(out.config)

    def close(self):
        self._mgr.close()


def read_config(directory: str | Path) -> dict:
    path = Path(directory) / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: is {directory} a worldsim checkpoint directory?")
    return read_json_object(path, TOP_FIX)


def damage(step_dir: Path) -> str | None:
    """What is wrong with one step folder, or None if it looks intact. A folder without SUMS (written before
    checksums, or killed between orbax's commit and SUMS) gets only the checks that need no checksums."""
    sums = step_dir / SUMS
    if not sums.is_file():
        for rel in ("state/_METADATA", "config/metadata"):
            if not (step_dir / rel).is_file():
                return f"{rel} is missing"
        try:
            json.loads((step_dir / "config/metadata").read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return "config/metadata is not readable JSON"
        return None
    try:
        recorded = json.loads(sums.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        recorded = None
    if not (isinstance(recorded, dict) and all(isinstance(v, str) for v in recorded.values())):
        return f"{SUMS} is damaged"
    return first_damaged(step_dir, recorded)


UNFINISHED = "*.orbax-checkpoint-tmp*"  # orbax writes a step here, then renames it to the step's number


def remove_unfinished(directory: Path) -> list[str]:
    """Delete what a run killed mid-write left (orbax's temporary step folders, our half-written JSON files);
    returns their names. Never a finished checkpoint: those are only ever renamed into place."""
    gone = []
    for path in sorted(directory.glob(UNFINISHED)) + sorted(directory.glob("*/*.json.tmp")) + \
            sorted(directory.glob("*.json.tmp")):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
        gone.append(str(path.relative_to(directory)))
    if gone:
        _say(f"removed {', '.join(gone)} from {directory}: unfinished writes of a run that was stopped")
    return gone


def set_aside_damaged(directory: Path) -> list[int]:
    """Rename damaged checkpoints, newest first, to `<step>.damaged` until an intact one is found; returns the
    steps set aside. Older ones are not checked: they are only read if the newer ones go."""
    steps = sorted((int(p.name) for p in directory.iterdir() if p.name.isdigit() and p.is_dir()), reverse=True)
    aside = []
    for step in steps:
        problem = damage(directory / str(step))
        if problem is None:
            break
        dest = directory / f"{step}.damaged"
        n = 1
        while dest.exists():
            n += 1
            dest = directory / f"{step}.damaged{n}"
        os.replace(directory / str(step), dest)
        aside.append(step)
        _say(f"checkpoint {step} in {directory} is damaged ({problem}): moved it to {dest.name} (delete it once "
             "looked at); falling back to the checkpoint before")
    if aside and len(aside) == len(steps):
        _say(f"no intact checkpoint is left in {directory}: training starts again from step 0")
    return aside


def _write_json(path: Path, obj) -> None:
    """Write whole or not at all: a run killed mid-write leaves the old file, never a truncated one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2))
    os.replace(tmp, path)


def _say(text: str) -> None:
    if hosts.is_main():
        print(text, file=sys.stderr, flush=True)


EXTENDABLE = frozenset({"steps"})  # the one setting a resumed run may change: more steps extend a finished run


def _differences(old: dict, want: dict, prefix: str = "") -> list[str]:
    """Every setting that differs, nested configs by their inner names: ['model.flow_steps: 8 -> 2', ...]."""
    out = []
    for k in sorted(set(old) | set(want)):
        a, b = old.get(k), want.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}: {a!r} -> {b!r}")
    return out


def resume_check(saved: dict, cfg, workdir, start: int) -> None:
    """Both trainers' resume: check_resumable on the restored checkpoint's config against `cfg` (a training config
    with to_dict), printing its note (a run being extended) from the main process."""
    note = check_resumable(saved.get("train"), json.loads(json.dumps(cfg.to_dict())), workdir, start)
    if note and hosts.is_main():
        print(note, file=sys.stderr)


def check_resumable(saved: dict | None, want: dict, workdir, start: int) -> str | None:
    """A checkpoint's training config (`saved`) against this run's (`want`, both JSON-plain dicts), resuming at
    step `start`. The same settings: None. Only `steps`, raised past `start`: a line saying the run is extended
    (the learning-rate schedule then spans the new length). Anything else: ValueError naming each setting."""
    old = saved or {}
    changed = sorted(k for k in set(old) | set(want) if old.get(k) != want.get(k))
    if not changed:
        return None
    if set(changed) <= EXTENDABLE:
        if want["steps"] > start:
            return (f"extending the run in {workdir} from {old.get('steps')} to {want['steps']} steps, resuming at "
                    f"step {start} (the learning-rate schedule now spans {want['steps']} steps)")
        raise ValueError(f"{workdir} already holds step {start}: pass --steps above {start} to extend that run, or "
                         "use a new --workdir")
    detail = "; ".join(_differences(old, want))
    raise ValueError(f"{workdir} holds a run with a different config (differs in: {detail}); use a new --workdir, "
                     "the same settings, or change only --steps to extend it")
