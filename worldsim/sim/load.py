"""`ws.load`: a WorldModel from the shipped default or from a directory, with errors that name the fix.

Accepted directories:
  * a bundle: `DIR/tokenizer/` and `DIR/dynamics/` exports (what `export` writes);
  * a dynamics export (`DIR/config.json` of kind worldsim.dynamics, e.g. `WORKDIR/model` from
    `worldsim train dynamics`), whose config.json records its tokenizer under ["tokenizer"]["path"]
    ("default" = the shipped tokenizer; a relative path is taken relative to DIR).
"default" = worldsim/assets/tokenizer + worldsim/assets/dynamics (package data).
"""

from __future__ import annotations

from pathlib import Path

from worldsim.dynamics import load as dyn_load
from worldsim.io.params import read_json_object
from worldsim.sim.model import Sampling, WorldModel, check_pair
from worldsim.tokenizer import load as tok_load

TRAIN_HINT = "train one with `worldsim train dynamics --workdir WORKDIR` and pass WORKDIR/model"


def _kind(directory: Path) -> str | None:
    """The kind a directory's config.json names; None without one; a damaged one raises, naming the file."""
    cfg = directory / "config.json"
    if not cfg.is_file():
        return None
    return read_json_object(cfg, "re-export the model, or copy its config.json back from the original export").get(
        "kind", "unknown")


def _tokenizer_for(dyn_dir: Path, meta: dict, tok_dir: Path | None = None):
    """The tokenizer a dynamics export names (or tok_dir), checked against the fingerprint the export recorded."""
    rec = meta.get("tokenizer") or {}
    path = rec.get("path") if tok_dir is None else str(tok_dir)
    if path is None:
        raise ValueError(
            f"{dyn_dir}/config.json does not record its tokenizer (['tokenizer']['path']): put the export next to "
            f"its tokenizer as DIR/dynamics and DIR/tokenizer and call ws.load(DIR)"
        )
    if tok_dir is None:  # "default" = shipped; a relative path is relative to the dynamics export
        tok_dir = tok_load.DEFAULT if path == "default" else dyn_dir / path
    if not (tok_dir / "config.json").is_file():
        raise FileNotFoundError(
            f"the dynamics model at {dyn_dir} was trained on the tokenizer at {path}, which is not there: copy that "
            f"tokenizer export next to it as DIR/tokenizer (with the dynamics as DIR/dynamics) and call ws.load(DIR)"
        )
    tokenizer = tok_load.load(tok_dir)
    want = rec.get("fingerprint")
    if want:
        from worldsim.data.latents import tokenizer_fingerprint  # hashing weights costs; only when recorded

        if tokenizer_fingerprint(tokenizer) != want:
            raise ValueError(
                f"the tokenizer at {tok_dir} is not the one the dynamics model at {dyn_dir} was trained on "
                "(weights fingerprint differs): load the dynamics with its own tokenizer export"
            )
    return tokenizer


def load(name_or_path: str | Path = "default") -> WorldModel:
    """A WorldModel: "default" (the shipped one) or a directory (see the module docstring)."""
    if not isinstance(name_or_path, (str, Path)):
        raise TypeError(f"ws.load takes 'default' or a directory path, got {type(name_or_path).__name__}: pass "
                        "a str or pathlib.Path")
    if str(name_or_path) == "default":
        if _kind(dyn_load.DEFAULT) is None:
            raise FileNotFoundError(
                f"the default dynamics model is not shipped yet (expected {dyn_load.DEFAULT}): {TRAIN_HINT}, "
                "or use ws.WorldModel.random() to try the API with an untrained model"
            )
        # The shipped pair is always the shipped tokenizer (the recorded path may name the trainer's machine).
        tokenizer = _tokenizer_for(dyn_load.DEFAULT, dyn_load.read_meta(dyn_load.DEFAULT), tok_load.DEFAULT)
        return _pair(tokenizer, dyn_load.load(dyn_load.DEFAULT), "default", dyn_load.DEFAULT)
    directory = Path(name_or_path)
    if not directory.exists():
        raise FileNotFoundError(f"no world model at {directory}: the path does not exist (pass 'default' or a "
                                "directory holding tokenizer/ and dynamics/ exports, or a dynamics export)")
    if not directory.is_dir():
        raise ValueError(f"{directory} is a file: pass the directory that holds the model (tokenizer/ and dynamics/)")
    kind = _kind(directory)
    if kind != dyn_load.KIND and ((directory / "dynamics").is_dir() or (directory / "tokenizer").is_dir()):
        return _bundle(directory)
    if kind == dyn_load.KIND:
        tokenizer = _tokenizer_for(directory, dyn_load.read_meta(directory))
        return _pair(tokenizer, dyn_load.load(directory), str(directory), directory)
    if kind == tok_load.KIND:
        raise ValueError(f"{directory} holds a tokenizer only, not a world model: load it with "
                         "worldsim.tokenizer.load, or pass a dynamics export trained on it")
    if kind is not None:
        raise ValueError(f"{directory} holds a {kind!r} checkpoint, not a world model: pass a directory with "
                         "tokenizer/ and dynamics/ exports, or a dynamics export")
    if (directory / "model" / "config.json").is_file():
        raise ValueError(f"{directory} looks like a training workdir: pass its exported model, {directory / 'model'}")
    raise ValueError(f"{directory} holds no world model (no config.json, no tokenizer/ and dynamics/ exports): "
                     f"{TRAIN_HINT}")


def _bundle(directory: Path) -> WorldModel:
    """DIR/tokenizer + DIR/dynamics; their loaders name whichever file is missing or damaged."""
    if not (directory / "tokenizer" / "config.json").is_file():
        raise FileNotFoundError(f"{directory}/tokenizer is not a tokenizer export (no config.json): copy the "
                                "tokenizer the dynamics was trained on to DIR/tokenizer")
    if not (directory / "dynamics" / "config.json").is_file():
        raise FileNotFoundError(f"{directory}/dynamics is not a dynamics export (no config.json): copy the "
                                "dynamics export to DIR/dynamics, beside its tokenizer")
    return _pair(tok_load.load(directory / "tokenizer"), dyn_load.load(directory / "dynamics"), str(directory),
                 directory / "dynamics")


def _pair(tokenizer, dynamics, source: str, dyn_dir: Path) -> WorldModel:
    check_pair(tokenizer.config, dynamics.config, f"{source}: ")
    meta = dyn_load.read_meta(dyn_dir)
    sampling = Sampling.from_dict(meta.get("sampling"))  # recorded with the export
    return WorldModel(tokenizer, dynamics, source=source, sampling=sampling,
                      untrained_state_head=not dyn_load.state_head_trained(meta))


def export(model: WorldModel, directory: str | Path) -> Path:
    """Write a bundle that `load(directory)` reads back: DIR/tokenizer and DIR/dynamics exports."""
    directory = Path(directory)
    tok_load.export(model.tokenizer, directory / "tokenizer")
    untrained = {dyn_load.STATE_LABELS: 0} if model.untrained_state_head else {}  # keeps saying why on reload
    dyn_load.export(model.dynamics, directory / "dynamics",
                    {"tokenizer": {"path": "../tokenizer"}, "sampling": model.sampling.to_dict(), **untrained})
    return directory
