"""`--set KEY=VALUE` overrides of the training configs: parsing by declared type, nested keys, errors that name
the fix, and the CLI's --show-config. No training runs here."""

from dataclasses import dataclass, field

import pytest
from clitools import run

from worldsim.train.dynamics import DynamicsTrainConfig
from worldsim.train.overrides import apply, format_config, keys, parse_value
from worldsim.train.tokenizer import TokenizerTrainConfig


@dataclass(frozen=True)
class Inner:
    size: int = 4
    name: str = "a"


@dataclass(frozen=True)
class Outer:
    inner: Inner = field(default_factory=Inner)
    rate: float = 0.5
    on: bool = False
    tags: tuple[str, ...] = ("x", "y")
    pair: tuple[int, int] = (1, 2)
    folder: str | None = None
    count: int | None = 3

    def __post_init__(self):
        if self.inner.size > 10 and self.rate > 0.1:
            raise ValueError("inner.size > 10 needs rate <= 0.1")


def test_values_parse_by_declared_type():
    cfg = apply(Outer(), ["inner.size=7", "rate=1e-3", "on=yes", "tags=a, b,c", "pair=(5,6)", "folder=my dir",
                          "count=none", "inner.name=b=c"])
    assert cfg == Outer(Inner(7, "b=c"), 1e-3, True, ("a", "b", "c"), (5, 6), "my dir", None)
    assert apply(Outer(), ["tags="]).tags == ()  # empty: the empty tuple
    assert apply(Outer(), ["rate=0.2", "rate=0.3"]).rate == 0.3  # the later one wins
    assert apply(Outer(), []) == Outer()
    for text, want in [("True", True), ("off", False), ("1", True), ("0", False)]:
        assert parse_value(text, bool) is want


def test_settings_that_must_agree_change_together():
    """All overrides are applied before the config's checks run: one at a time, the first would fail."""
    assert apply(Outer(), ["inner.size=20", "rate=0.05"]).inner.size == 20
    with pytest.raises(ValueError, match=r"Outer: inner.size > 10 needs rate <= 0.1 \(with the settings inner"):
        apply(Outer(), ["inner.size=20"])


@pytest.mark.parametrize("item, match", [
    ("rate=fast", r"rate='fast': expected a number \(the current value is 0.5\)"),
    ("inner.size=2.5", "expected an integer"),
    ("on=maybe", "expected true or false"),
    ("pair=1,2,3", "expected 2 comma-separated values"),
    ("count=many", "expected an integer or none"),
    ("rate", "write a setting as key=value"),
    ("=3", "write a setting as key=value"),
    ("rte=1", "unknown setting 'rte' for Outer: did you mean rate?"),
    ("size=1", "did you mean inner.size?"),  # the same name in a nested config
    ("inner.sise=1", "did you mean inner.size?"),
    ("zzz=1", r"valid keys: rate, on, tags, pair, folder, count \(and nested ones: inner.KEY\)"),
    ("inner.zzz=1", "valid keys in inner: inner.size, inner.name"),
    ("inner=1", "inner is a group of settings: set its keys, e.g. inner.size, inner.name"),
])
def test_bad_settings_name_the_fix(item, match):
    with pytest.raises(ValueError, match=match):
        apply(Outer(), [item])


def test_refused_keys_give_their_reason():
    with pytest.raises(ValueError, match="rate: fixed here"):
        apply(Outer(), ["rate=0.1"], refused={"rate": "fixed here"})


@pytest.mark.parametrize("cfg", [TokenizerTrainConfig.tiny(), TokenizerTrainConfig.small(),
                                 DynamicsTrainConfig.tiny(), DynamicsTrainConfig.small()],
                         ids=["tokenizer-tiny", "tokenizer-small", "dynamics-tiny", "dynamics-small"])
def test_format_config_reads_back(cfg):
    """Every line --show-config prints is valid --set input, and gives the same config back."""
    lines = format_config(cfg).splitlines()
    assert [x.split("=", 1)[0] for x in lines] == keys(cfg)
    assert apply(cfg, lines) == cfg


def test_the_training_configs_take_the_settings_users_need():
    tok = apply(TokenizerTrainConfig.tiny(), ["model.resolution=64", "clip_frames=8", "lr=3e-4", "log_every=5",
                                              "video_every=10", "worlds=gravity"])
    assert (tok.model.resolution, tok.model.grid, tok.clip_frames, tok.lr, tok.log_every, tok.worlds) == \
        (64, 8, 8, 3e-4, 5, ("gravity",))
    dyn = apply(DynamicsTrainConfig.tiny(), ["clip_frames=12", "lr=1e-4", "val_every=0", "model.window=6",
                                             "init=none", "video_folder=clips"])
    assert (dyn.clip_frames, dyn.model.window, dyn.val_every, dyn.init, dyn.video_folder) == \
        (12, 6, 0, None, "clips")
    with pytest.raises(ValueError, match="resolution 60 is not divisible by patch 8"):
        apply(TokenizerTrainConfig.tiny(), ["model.resolution=60"])


def test_cli_show_config_and_errors(capsys, tmp_path):
    code, out, _ = run(capsys, "train", "tokenizer", "--preset", "tiny", "--show-config", "--steps", "7",
                       "--set", "model.resolution=64", "--set", "lr=1e-2")
    assert code == 0
    lines = dict(x.split("=", 1) for x in out.splitlines())
    assert (lines["model.resolution"], lines["lr"], lines["steps"], lines["log_every"]) == ("64", "0.01", "7", "10")
    code, _, err = run(capsys, "train", "tokenizer", "--preset", "tiny", "--show-config", "--set", "lrr=1")
    assert code == 2 and "did you mean lr? (`worldsim train tokenizer --show-config` lists every key" in err
    code, _, err = run(capsys, "train", "tokenizer", "--preset", "tiny", "--workdir", str(tmp_path), "--steps", "3",
                       "--set", "steps=4")
    assert code == 2 and "--steps and --set steps=... both set steps: give one" in err
    code, _, err = run(capsys, "train", "tokenizer", "--preset", "tiny", "--set", "lr=1e-3")
    assert code == 2 and "--workdir DIR" in err
    for key in ("model.grid", "model.latent_dim", "model.resolution"):  # the dynamics' grid follows its tokenizer
        code, _, err = run(capsys, "train", "dynamics", "--preset", "tiny", "--workdir", str(tmp_path), "--set",
                           f"{key}=8")
        assert code == 2 and f"{key}: cannot be set" in err and "--set model.resolution=N" in err
    assert not any(tmp_path.iterdir())  # every error came before any training
    code, out, _ = run(capsys, "train", "--help")
    assert code == 0 and "--set KEY=VALUE" in out and "--show-config" in out and "model.resolution=32" in out


def test_dynamics_show_config_fits_the_tokenizer(capsys):
    """The resolved dynamics config has the (default) tokenizer's latent grid, whatever the preset said."""
    from worldsim.tokenizer.load import load

    code, out, _ = run(capsys, "train", "dynamics", "--preset", "tiny", "--show-config", "--set", "clip_frames=9")
    tc = load("default").config
    lines = dict(x.split("=", 1) for x in out.splitlines())
    assert code == 0 and lines["clip_frames"] == "9"
    assert (int(lines["model.grid"]), int(lines["model.latent_dim"])) == (tc.grid, tc.latent_dim)
