"""What an evaluation runs: worlds, splits, clip counts and lengths, measure families (worldsim/docs/eval.md protocol).

    Suite.standard()   every world, ID + each OOD split, 16 clips of 3 + 16 frames at 64x64, every family
                       (evaluate(predictor, "standard") runs it at predictor.resolution: the worlds render at any size)
    Suite.quick()      one world, ID only, a few short clips: seconds, for tests and smoke runs

Clips come from held-out seeds (at or above data.HELD_OUT_SEED, which training never uses); each world/split
draws from its own key folded from the suite key, so adding a split leaves the others' clips as they are.
"""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass

import jax

from worldsim import worlds as worlds_lib

FAMILIES = ("physics", "pixels", "text", "actions", "voe", "latents")
# physics: worldsim/docs/eval.md 1-5 (tracked); pixels: 6; latents: 7 (needs predictor.latents); voe: 8 (needs .surprise);
# text: 9 (needs .first_frames); actions: 9 (push world, any predictor).


def _ints(suite, *names, low):
    for n in names:
        v = getattr(suite, n)
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ValueError(f"Suite.{n}={v!r}: use an integer >= {low}")


@dataclass(frozen=True)
class Suite:
    name: str = "custom"  # label in reports
    worlds: tuple[str, ...] = ("bouncing_balls", "gravity", "push")  # world names (worldsim.worlds.names())
    splits: tuple[str, ...] | None = None  # None: 'id' + every OOD split of each world; else these, where a world has them
    clips: int = 16  # clips per world/split (and for the text and action checks)
    context: int = 3  # conditioning frames c given to the predictor
    horizon: int = 16  # frames it generates; clips are context + horizon frames long
    resolution: int = 64  # frames are resolution x resolution (must equal predictor.resolution)
    families: tuple[str, ...] = FAMILIES  # measure families to run (see FAMILIES)
    violations: tuple[str, ...] = worlds_lib.VIOLATION_KINDS  # VoE kinds (gravity_flip only in worlds with gravity)
    voe_pairs: int = 16  # matched possible/impossible pairs per world and kind
    probe_clips: int = 32  # ID clips per world for the latent probes (split by trajectory into 60/20/20%: >= 5)
    batch: int = 16  # clips per predictor call, bounding its memory

    def __post_init__(self):
        for field in ("worlds", "families", "violations") + (("splits",) if self.splits is not None else ()):
            v = getattr(self, field)
            if isinstance(v, str) or not isinstance(v, (tuple, list)) or len(v) == 0:
                raise ValueError(f"Suite.{field} must be a non-empty tuple of names, got {v!r}")
            object.__setattr__(self, field, tuple(v))
        for w in self.worlds:
            if w not in worlds_lib.names():
                raise ValueError(f"unknown world {w!r} in Suite.worlds: valid names are {', '.join(worlds_lib.names())}")
        if self.splits is not None:
            known = {s for w in self.worlds for s in worlds_lib.splits(w)}
            bad = [s for s in self.splits if s not in known]
            if bad:
                raise ValueError(f"unknown split(s) {bad} for worlds {list(self.worlds)}: choose from {', '.join(sorted(known))}")
        for f in self.families:
            if f not in FAMILIES:
                raise ValueError(f"unknown measure family {f!r}: choose from {', '.join(FAMILIES)}")
        for v in self.violations:
            if v not in worlds_lib.VIOLATION_KINDS:
                raise ValueError(f"unknown violation kind {v!r}: choose from {', '.join(worlds_lib.VIOLATION_KINDS)}")
        _ints(self, "clips", "context", "horizon", "voe_pairs", "batch", low=1)
        _ints(self, "probe_clips", low=5)  # the split by trajectory keeps >= 3 clips to train on
        if not isinstance(self.resolution, int) or not 16 <= self.resolution <= 512:
            raise ValueError(f"Suite.resolution={self.resolution!r}: use an integer in [16, 512] (the worlds' range)")

    @property
    def num_frames(self) -> int:
        return self.context + self.horizon

    def world_splits(self) -> list[tuple[str, str]]:
        """(world, split) pairs in run order: each world's ID split first."""
        out = []
        for w in self.worlds:
            have = worlds_lib.splits(w)
            out += [(w, s) for s in have if self.splits is None or s in self.splits]
        return out

    def replace(self, **changes) -> "Suite":
        return dataclasses.replace(self, **changes)

    @classmethod
    def standard(cls) -> "Suite":
        # 128 clips per world for the latent probes: at 32, even the raw-pixel probe scored R^2 < 0 (too few
        # trajectories to fit thousands of features); at 128 the probes separate (experiments/physics_eval)
        return cls(name="standard", probe_clips=128)

    @classmethod
    def quick(cls) -> "Suite":
        return cls(name="quick", worlds=("bouncing_balls",), splits=("id",), clips=4, horizon=8,
                   violations=("teleport",), voe_pairs=4, probe_clips=24, batch=4)


def get_suite(suite) -> Suite:
    """A Suite from a Suite or a preset name ('standard', 'quick')."""
    if isinstance(suite, Suite):
        return suite
    if suite in ("standard", "quick"):
        return getattr(Suite, suite)()
    raise ValueError(f"unknown suite {suite!r}: use 'standard', 'quick' or a worldsim.probes.Suite(...)")


def split_key(key, *names: str) -> jax.Array:
    """A key for one world/split/purpose, folded from the suite key by name (stable when others are added)."""
    for n in names:
        key = jax.random.fold_in(key, zlib.crc32(n.encode()))
    return key


def make_world(suite: Suite, name: str, split: str = "id"):
    return worlds_lib.make(name, split=split, resolution=suite.resolution, num_frames=suite.num_frames)


def sample_clips(suite: Suite, name: str, split: str, key, clips: int | None = None):
    """(World, Episode) of `clips` (default suite.clips) held-out clips of one world/split, as the harness draws them."""
    world = make_world(suite, name, split)
    return world, world.sample(split_key(key, name, split, "clips"), suite.clips if clips is None else clips)
