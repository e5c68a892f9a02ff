"""A deterministic stream of clips from a mixture of worlds: batch i depends only on (seed, i).

That makes training resumable bit-for-bit (the batch after a restart is the batch the interrupted run would have
seen) and keeps evaluation data apart: training uses seeds below HELD_OUT_SEED, evaluation at or above it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp

import worldsim.worlds as worlds_lib

HELD_OUT_SEED = 1_000_000  # evaluation seeds start here; training seeds must stay below


FLAGS = {"occluder": {"occluder": True}, "idle": {"idle_share": 0.5}}  # world-entry flags and their overrides


def _parse(entry: str) -> tuple[str, dict]:
    """'bouncing_balls', 'bouncing_balls+occluder' or 'push+idle' (half the held action blocks push nothing)
    -> (name, overrides)."""
    name, *flags = entry.split("+")
    overrides = {}
    for f in flags:
        if f not in FLAGS:
            raise ValueError(f"unknown world flag {f!r} in {entry!r}: the flags are {', '.join('+' + x for x in FLAGS)}")
        overrides.update(FLAGS[f])
    return name, overrides


@dataclass(frozen=True)
class WorldMixture:
    """Equal shares of each entry per batch (entries: world names, optionally with flags: '+occluder', '+idle')."""

    entries: tuple[str, ...] = ("bouncing_balls", "gravity", "push")
    resolution: int = 64
    num_frames: int = 4
    clips_per_world: int = 1
    seed: int = 0
    _worlds: list = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if not self.entries:
            raise ValueError("a mixture needs at least one world")
        if not 0 <= self.seed < HELD_OUT_SEED:
            raise ValueError(f"training seed must be in [0, {HELD_OUT_SEED}); larger seeds are held out for evaluation")
        ws = []
        for e in self.entries:
            name, over = _parse(e)
            ws.append(worlds_lib.make(name, resolution=self.resolution, num_frames=self.num_frames, **over))
        object.__setattr__(self, "_worlds", ws)

    @property
    def batch_size(self) -> int:
        return len(self.entries) * self.clips_per_world

    def batch(self, index: int, seed: int | None = None):
        """Episodes for batch `index`: one Episode per entry (use `frames(index)` for just pixels)."""
        key = jax.random.fold_in(jax.random.key(self.seed if seed is None else seed), index)
        return [w.sample(jax.random.fold_in(key, i), self.clips_per_world) for i, w in enumerate(self._worlds)]

    def frames(self, index: int, seed: int | None = None) -> jax.Array:
        """uint8 (B, T, H, W, 3) for batch `index`."""
        return jnp.concatenate([ep.frames for ep in self.batch(index, seed)], axis=0)
