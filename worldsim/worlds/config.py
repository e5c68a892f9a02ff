"""World configuration: one frozen dataclass for every ball world, with in-distribution ranges and OOD splits.

Units: the box is the unit square [0, 1] x [0, 1] in world units; x grows to the right (image columns), y grows
downward (image rows), so gravity pulls towards +y. Pixel i of an image of `resolution` R covers world
[i/R, (i+1)/R]; its centre is (i + 0.5)/R, so pixel coordinate = world * R - 0.5 (see `world_to_pixel`).
Time: one frame every `dt` seconds; velocities are in world units per second.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

MIN_RESOLUTION = 16
MAX_RESOLUTION = 512
MAX_BALLS = 6  # the palette has six trackable colours (see palette.py)
REFERENCE_RADIUS = 0.08  # mass = (radius / REFERENCE_RADIUS)**2: constant density, mass ~ 1 for a typical ball


def _check_range(name: str, rng, lo: float, hi: float, *, integer: bool = False) -> None:
    if not (isinstance(rng, tuple) and len(rng) == 2):
        raise ValueError(f"{name} must be a (low, high) tuple, got {rng!r}")
    a, b = rng
    if integer and not (isinstance(a, int) and isinstance(b, int)):
        raise ValueError(f"{name} must hold integers, got {rng!r}")
    if not (lo <= a <= b <= hi):
        raise ValueError(f"{name}={rng!r} is out of bounds: need {lo} <= low <= high <= {hi}")


@dataclass(frozen=True)
class WorldConfig:
    """Everything that defines a ball world. Build one with `worldsim.worlds.make(name, split=..., **overrides)`."""

    resolution: int = 64  # rendered frames are resolution x resolution pixels
    num_frames: int = 32  # frames per sampled clip
    dt: float = 0.05  # seconds between frames
    num_balls: tuple[int, int] = (1, 4)  # inclusive range of the number of balls per clip
    radius: tuple[float, float] = (0.06, 0.10)  # ball radius range, world units
    speed: tuple[float, float] = (0.3, 0.8)  # initial speed range, world units per second
    gravity: float = 0.0  # downward acceleration, world units / s^2
    restitution: float = 1.0  # 1 = perfectly elastic (walls and balls)
    controllable: bool = False  # ball 0 is driven by a 2-D action (the push world)
    max_force: float = 3.0  # push world: force on the agent ball per unit action (accel = force / mass)
    damping: float = 0.0  # velocity decay rate, 1/s (push world: friction so pushes matter)
    action_hold: int = 4  # push world's random data policy: frames each sampled action is held
    idle_share: float = 0.0  # push world's data policy: share of those held blocks with no push at all (idle
    # stretches, so a model also learns what a ball does when nothing pushes it)
    occluder: tuple[float, float, float, float] | None = None  # static grey bar (x0, y0, x1, y1), world units
    max_events: int = 24  # collision events resolved per frame before positions are clamped (Zeno guard)

    def __post_init__(self):
        if not isinstance(self.resolution, int) or not MIN_RESOLUTION <= self.resolution <= MAX_RESOLUTION:
            raise ValueError(
                f"resolution={self.resolution!r} is not supported: use an integer in "
                f"[{MIN_RESOLUTION}, {MAX_RESOLUTION}] (32, 64 and 128 are the tested sizes)"
            )
        if not isinstance(self.num_frames, int) or not 2 <= self.num_frames <= 4096:
            raise ValueError(f"num_frames={self.num_frames!r}: use an integer in [2, 4096]")
        if not 0.0 < self.dt <= 1.0:
            raise ValueError(f"dt={self.dt!r}: use a frame interval in (0, 1] seconds")
        _check_range("num_balls", self.num_balls, 1, MAX_BALLS, integer=True)
        _check_range("radius", self.radius, 0.02, 0.2)
        _check_range("speed", self.speed, 0.0, 5.0)
        if self.controllable and self.num_balls[0] < 1:
            raise ValueError("a controllable world needs at least one ball")
        if not 0.0 <= self.gravity <= 20.0:
            raise ValueError(f"gravity={self.gravity!r}: use a value in [0, 20] world units / s^2")
        if not 0.0 <= self.restitution <= 1.0:
            raise ValueError(f"restitution={self.restitution!r}: use a value in [0, 1]")
        if self.max_force < 0 or self.damping < 0:
            raise ValueError("max_force and damping must be >= 0")
        if self.action_hold < 1:
            raise ValueError("action_hold must be >= 1")
        if not 0.0 <= self.idle_share <= 1.0:
            raise ValueError(f"idle_share={self.idle_share!r}: use a share in [0, 1]")
        if self.occluder is not None:
            x0, y0, x1, y1 = self.occluder
            if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
                raise ValueError(f"occluder={self.occluder!r}: use (x0, y0, x1, y1) with 0 <= x0 < x1 <= 1, same for y")
        if self.max_events < 1:
            raise ValueError("max_events must be >= 1")
        # Packing check: the largest balls must fit in the box without overlap at start.
        area = self.num_balls[1] * 3.1416 * self.radius[1] ** 2
        if area > 0.45:
            raise ValueError(
                f"{self.num_balls[1]} balls of radius {self.radius[1]} cover {area:.0%} of the box: "
                "too dense to place without overlap; lower num_balls or radius"
            )

    @property
    def capacity(self) -> int:
        """K, the fixed number of ball slots in every state (the unused ones have present=False)."""
        return self.num_balls[1]

    @property
    def action_dim(self) -> int:
        return 2 if self.controllable else 0

    def replace(self, **changes) -> "WorldConfig":
        return dataclasses.replace(self, **changes)


# The default occluder: a vertical bar through the middle of the box, balls pass behind it.
DEFAULT_OCCLUDER = (0.44, 0.0, 0.56, 1.0)

# Per world: the in-distribution preset and out-of-distribution splits (each changes one factor, docs/eval.md).
_COMMON_SPLITS = {
    "speed_slow": dict(speed=(0.1, 0.22)),
    "speed_fast": dict(speed=(1.0, 1.4)),
    "radius_large": dict(radius=(0.11, 0.13)),
    "radius_small": dict(radius=(0.035, 0.05)),
}

PRESETS: dict[str, tuple[WorldConfig, dict[str, dict]]] = {
    "bouncing_balls": (
        WorldConfig(num_balls=(1, 4)),
        {**_COMMON_SPLITS, "count": dict(num_balls=(5, 6), radius=(0.06, 0.08))},
    ),
    "gravity": (
        WorldConfig(num_balls=(1, 3), gravity=1.0, speed=(0.2, 0.6)),
        {
            **_COMMON_SPLITS,
            "count": dict(num_balls=(4, 5), radius=(0.06, 0.08)),
            "gravity_weak": dict(gravity=0.5),
            "gravity_strong": dict(gravity=2.0),
        },
    ),
    "push": (
        WorldConfig(num_balls=(1, 3), controllable=True, speed=(0.0, 0.3), damping=1.5),
        {
            "speed_fast": dict(speed=(0.8, 1.2)),
            "radius_large": dict(radius=(0.11, 0.13)),
            "radius_small": dict(radius=(0.035, 0.05)),
            "count": dict(num_balls=(4, 5), radius=(0.06, 0.08)),
        },
    ),
}
