"""Ground-truth physics worlds: exact ball physics, rendering, captions, violation-of-expectation pairs.

    world = worldsim.worlds.make("bouncing_balls", resolution=64, num_frames=32)
    ep = world.sample(jax.random.key(0), batch_size=8)
"""

from __future__ import annotations

from worldsim.worlds.config import DEFAULT_OCCLUDER, PRESETS, WorldConfig
from worldsim.worlds.palette import COLOUR_NAMES, COLOURS
from worldsim.worlds.render import pixel_to_world, world_to_pixel
from worldsim.worlds.state import BallState, Episode, ball_states, kinetic_energy, momentum, potential_energy
from worldsim.worlds import captions
from worldsim.worlds.violations import KINDS as VIOLATION_KINDS
from worldsim.worlds.world import ViolationPair, World

__all__ = [
    "make", "names", "splits", "World", "WorldConfig", "BallState", "Episode", "ViolationPair", "ball_states",
    "kinetic_energy", "potential_energy", "momentum", "world_to_pixel", "pixel_to_world", "COLOURS",
    "COLOUR_NAMES", "VIOLATION_KINDS", "DEFAULT_OCCLUDER", "captions",
]


def names() -> list[str]:
    """The registered world names."""
    return sorted(PRESETS)


def splits(name: str) -> list[str]:
    """'id' plus the named out-of-distribution splits of a world."""
    _check_name(name)
    return ["id", *PRESETS[name][1]]


def _check_name(name) -> None:
    if name not in PRESETS:
        raise ValueError(f"unknown world {name!r}: valid names are {', '.join(names())}")


def make(name: str, split: str = "id", **overrides) -> World:
    """A world by name, optionally an OOD split (see `splits(name)`), with any WorldConfig field overridden.

    `occluder=True` adds the default bar (DEFAULT_OCCLUDER); a 4-tuple places your own.
    """
    _check_name(name)
    base, ood = PRESETS[name]
    if split != "id" and split not in ood:
        raise ValueError(f"unknown split {split!r} for world {name!r}: choose one of {', '.join(splits(name))}")
    fields = set(WorldConfig.__dataclass_fields__)
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown world option(s) {unknown}: valid options are {', '.join(sorted(fields))}")
    if overrides.get("occluder") is True:
        overrides["occluder"] = DEFAULT_OCCLUDER
    elif overrides.get("occluder") is False:
        overrides["occluder"] = None
    for key in ("num_balls", "radius", "speed", "occluder"):
        if isinstance(overrides.get(key), list):
            overrides[key] = tuple(overrides[key])
    config = base.replace(**{**(ood.get(split, {})), **overrides})
    return World(name, config, split)
