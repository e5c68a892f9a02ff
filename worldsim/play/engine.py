"""`Engine`: what every play session shares: the world model, one compiled Simulator, the colour tracker and the
example scenes. All model work runs on one worker thread, so sessions take turns on the CPU (first come, first
served) while the server's event loop stays free for messages; JAX releases the GIL while it computes."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
from concurrent.futures import ThreadPoolExecutor

import jax
import numpy as np

from worldsim import probes, worlds
from worldsim.data.latents import truncate_caption
from worldsim.io.progress import phase
from worldsim.play.config import PlayConfig
from worldsim.sim import Simulator, WorldModel
from worldsim.worlds.config import REFERENCE_RADIUS

EXAMPLE_FRAMES = 3  # ground-truth frames an example scene starts from (as in the evaluation protocol)


def b64(frame: np.ndarray) -> str:
    """uint8 (H, W, 3) -> base64 of its raw RGB bytes (the page puts them into an ImageData)."""
    return base64.b64encode(np.ascontiguousarray(frame, np.uint8).tobytes()).decode("ascii")


class Tracked:
    """The colour tracker's view of one frame: per palette colour (x, y, radius) in pixels, or None if absent."""

    def __init__(self, frame: np.ndarray):
        tr = probes.track(frame[None])
        self.present = np.asarray(tr.present[0])
        self.pos = np.asarray(tr.pos[0])
        self.radius = np.asarray(tr.radius[0])

    def rows(self) -> list[list[float] | None]:
        return [[round(float(x), 2), round(float(y), 2), round(float(r), 2)] if p else None
                for p, (x, y), r in zip(self.present, self.pos, self.radius)]


def energy_momentum(prev: Tracked | None, cur: Tracked, resolution: int, dt: float) -> tuple[float, list[float]]:
    """Kinetic energy and momentum (world units, mass = (radius / REFERENCE_RADIUS)^2 as in the worlds) of the
    balls tracked in both frames, from their displacement over one frame; (0, [0, 0]) without a previous frame."""
    if prev is None:
        return 0.0, [0.0, 0.0]
    both = prev.present & cur.present
    vel = (cur.pos - prev.pos) / resolution / dt  # (C, 2) world units / s
    mass = (cur.radius / resolution / REFERENCE_RADIUS) ** 2
    vel, mass = np.where(both[:, None], vel, 0.0), np.where(both, mass, 0.0)
    ke = float(0.5 * np.sum(mass * np.sum(vel**2, -1)))
    p = np.sum(mass[:, None] * vel, 0)
    return round(ke, 5), [round(float(p[0]), 5), round(float(p[1]), 5)]


class Engine:
    """Engine(model, config): the shared simulator. `run(fn, *args)` awaits fn on the model thread."""

    def __init__(self, model: WorldModel, config: PlayConfig | None = None):
        self.model = model
        self.config = config or PlayConfig()
        self.sim = Simulator(model)
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="worldsim-model")
        self.media_pool = ThreadPoolExecutor(2, thread_name_prefix="worldsim-media")  # uploads, downloads
        self.world_names = tuple(worlds.names())
        self.dt = worlds.make(self.world_names[0]).config.dt

    @property
    def resolution(self) -> int:
        return self.model.resolution

    async def run(self, fn, *args):
        """fn(*args) on the model thread (one at a time, in arrival order)."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, functools.partial(fn, *args))

    async def run_media(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.media_pool, functools.partial(fn, *args))

    def example(self, world: str, seed: int) -> tuple[str, np.ndarray, str | None]:
        """A ground-truth scene of `world`: (caption, first EXAMPLE_FRAMES frames uint8, agent colour or None),
        played with no pushes so the frames need no actions between them."""
        w = worlds.make(world, resolution=self.resolution, num_frames=EXAMPLE_FRAMES)
        states = w.reset(jax.random.key(seed), 1)
        ep = w.play(states, np.zeros((1, EXAMPLE_FRAMES, w.action_dim), np.float32))
        caption = truncate_caption(ep.captions[0], self.model.max_text_bytes)  # a small model reads short prompts
        return caption, np.asarray(ep.frames[0]), ep.facts[0]["controlled"]

    def warm_up(self, quiet: bool = False) -> None:
        """Compile what a session uses first (text reset, example reset, step, branch), so the page's first
        clicks do not wait on XLA."""
        label = "compiling the simulator (once per server start; later starts load it from the cache)"
        with contextlib.nullcontext() if quiet else phase(label):
            key = jax.random.key(0)
            for name in self.world_names:  # each world's simulation compiles on first use
                caption, frames, _ = self.example(name, 0)
            for state in (self.sim.reset(key, prompt=caption), self.sim.reset(key, prompt=caption, frames=frames)):
                self.sim.step(state, np.zeros(self.model.action_dim, np.float32), key)
            self.sim.step(self.sim.reset(key), np.zeros(self.model.action_dim, np.float32), key)  # no prompt
            Tracked(frames[0])
            b = self.sim.fork(state, self.config.branches)
            self.sim.rollout(b, np.zeros((self.config.branches, self.config.branch_frames, self.model.action_dim),
                                         np.float32), key)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.media_pool.shutdown(wait=False, cancel_futures=True)
