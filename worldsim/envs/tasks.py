"""Tasks: reward and termination as pure functions of the simulator's physics readout (per-colour position,
velocity, presence), so every adapter (Gymnasium, dm_env, functional) and the planner score the same thing.

A task is any object with `reward(readout) -> () float` and `terminal(readout) -> () bool` (jittable). It must be
hashable (a frozen dataclass is), because the compiled adapters take it as a static argument. A task whose reward
reads one ball names its colour slot as `colour` (ReachGoal does): the envs then start only episodes that have it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Protocol

import jax
import jax.numpy as jnp
import numpy as np

from worldsim.sim import Readout
from worldsim.worlds import COLOUR_NAMES


class Task(Protocol):
    def reward(self, readout: Readout) -> jax.Array: ...

    def terminal(self, readout: Readout) -> jax.Array: ...


@dataclass(frozen=True)
class ReachGoal:
    """Bring the ball of one colour (the push world's agent is red, slot 0) into a disc around `goal`.

    reward = minus the distance of that ball to the goal (world units), every step; the episode terminates once
    the distance is below `radius`.
    """

    goal: tuple[float, float] = (0.75, 0.75)  # target centre, world units (box [0, 1]^2, y down)
    radius: float = 0.1  # success when the ball's centre is this close to the goal
    colour: int = 0  # colour slot of the controlled ball (worlds.COLOUR_NAMES; 0 = red, the push world's agent)

    def __post_init__(self):
        if len(self.goal) != 2 or not all(0.0 <= float(g) <= 1.0 for g in self.goal):
            raise ValueError(f"goal={self.goal!r}: use an (x, y) point inside the box [0, 1]^2")
        if not 0.0 < self.radius < 1.0:
            raise ValueError(f"radius={self.radius!r}: use a distance in (0, 1) world units")
        if not 0 <= self.colour < len(COLOUR_NAMES):
            raise ValueError(f"colour={self.colour!r}: use a slot in 0..{len(COLOUR_NAMES) - 1} ({COLOUR_NAMES})")

    def reward(self, readout: Readout) -> jax.Array:
        return self.as_goal().reward(readout)

    def terminal(self, readout: Readout) -> jax.Array:
        return self.as_goal().terminal(readout)

    def as_goal(self) -> "Goal":
        return Goal(jnp.asarray(self.goal, jnp.float32), jnp.float32(self.radius), self.colour)


class Goal(NamedTuple):
    """ReachGoal as a pytree of arrays: pass it into jitted code as an argument (e.g. a planner evaluated on many
    goals compiles once). Same reward and termination."""

    centre: jax.Array  # (2,) world units
    radius: jax.Array  # () world units
    colour: int = 0  # colour slot of the controlled ball

    def distance(self, pos: jax.Array) -> jax.Array:
        """pos (..., C, 2) per-colour positions -> (...) distance of the goal's ball to the centre."""
        return jnp.linalg.norm(pos[..., self.colour, :] - self.centre, axis=-1)

    def reward(self, readout: Readout) -> jax.Array:
        return -self.distance(readout.pos)

    def terminal(self, readout: Readout) -> jax.Array:
        return self.distance(readout.pos) < self.radius


PRESENT = 0.5  # a readout presence below this means the ball is not in the frame


def object_colour(task) -> int | None:
    """The colour slot of the one ball a task's reward reads (its `colour`), or None for a task that reads none."""
    colour = getattr(task, "colour", None)
    return None if colour is None else int(colour)


def check_object(task, readout) -> None:
    """Refuse an episode whose start lacks the ball the task reads: its reward would be computed from the readout
    of a ball that is not there. Skipped under jit (a traced readout cannot raise) and for tasks that read none."""
    colour = object_colour(task)
    if colour is None or readout is None or isinstance(readout.present, jax.core.Tracer):
        return
    present = np.asarray(readout.present)[..., colour]
    if (present < PRESENT).any():
        name = COLOUR_NAMES[colour]
        raise ValueError(
            f"{type(task).__name__} reads the {name} ball (colour slot {colour}), but this episode starts without "
            f"one (readout presence {float(present.min()):.2g} < {PRESENT}): start from a scene that has it (the "
            f"default world='push', a prompt naming a {name} ball, or frames showing one), or use a task for a "
            "ball the scene has (ReachGoal(colour=...)) or task=NoTask()")


@dataclass(frozen=True)
class NoTask:
    """Reward 0, never terminates: plain simulation (episodes end only by truncation)."""

    def reward(self, readout) -> jax.Array:
        return jnp.zeros((), jnp.float32)

    def terminal(self, readout) -> jax.Array:
        return jnp.zeros((), bool)
