"""`Session`: one browser tab's world: its simulator state, the pushes it was given, what it recorded and its
branches. Plain synchronous methods, called on the model thread (worldsim.play.engine); each returns the message
(a dict) the page gets back. A `SessionError` is a request that cannot be met now; its message says why.

Frame messages carry the frame as base64 raw RGB, the colour tracker's positions (x, y, radius in pixels per
palette colour), kinetic energy and momentum from the tracked displacement, and the time the step took.
"""

from __future__ import annotations

import re
import time

import jax
import jax.numpy as jnp
import numpy as np

from worldsim import worlds
from worldsim.play.engine import Engine, Tracked, b64, energy_momentum
from worldsim.play.protocol import DIRECTIONS
from worldsim.worlds import world_to_pixel

_PUSH_CAPTION = re.compile(r"you push the (" + "|".join(worlds.COLOUR_NAMES) + r") one")


class SessionError(ValueError):
    def __init__(self, message: str, code: str = "refused"):
        super().__init__(message)
        self.code = code


class Session:
    def __init__(self, engine: Engine, seed: int):
        self.engine, self.cfg = engine, engine.config
        self.key = jax.random.key(seed)
        self.push_hold = worlds.make("push").config.action_hold  # frames one key press pushes for
        self.episode = 0
        self.episode_key = self.key
        self.state = None
        self.recorded: list[np.ndarray] = []
        self.prev: Tracked | None = None
        self.push_dir, self.push_left = None, 0
        self.upload: np.ndarray | None = None
        self.scene: tuple[str, np.ndarray, str, str | None] | None = None  # example: caption, frames, world, agent
        self.world: str | None = None
        self.agent: str | None = None
        self.branches = None  # (batched state, frames (n, T, H, W, 3))

    # ----- inputs -----

    def set_upload(self, frames: np.ndarray) -> dict:
        k = min(len(frames), self.cfg.context_frames)
        self.upload = frames[-k:]
        note = "" if len(frames) == k else f" (the last {k} are used: the model's context)"
        return {"type": "info", "code": "uploaded", "frames": k,
                "message": f"uploaded {len(frames)} frame{'s' * (len(frames) != 1)}{note}: Start (or Reset) starts "
                           "from them"}

    def example(self, world: str, seed: int) -> dict:
        caption, frames, agent = self.engine.example(world, seed)
        self.scene = (caption, frames, world, agent)
        return {"type": "example", "world": world, "seed": seed, "prompt": caption, "frames": len(frames),
                "agent": agent, "preview": b64(frames[-1])}

    # ----- the episode -----

    def reset(self, prompt: str | None, source: str) -> dict:
        frames, world, agent = None, None, None
        if source == "upload":
            if self.upload is None:
                raise SessionError("no frames uploaded yet: choose an image or a short video first")
            frames = self.upload
        elif source == "example":
            if self.scene is None:
                raise SessionError("no example loaded yet: pick a world and press example first")
            _, frames, world, agent = self.scene
        m = _PUSH_CAPTION.search(prompt or "")
        if world is None and m:
            world, agent = "push", m.group(1)
        self.episode += 1
        self.episode_key = jax.random.fold_in(self.key, self.episode)  # reset, steps and branches of this episode
        self.state = self.engine.sim.reset(self.episode_key, prompt=prompt, frames=frames)  # no pushes between
        self.world, self.agent = world, agent
        self.push_dir, self.push_left, self.branches = None, 0, None
        self.recorded, self.prev = [], None
        return self._frame(np.asarray(self.engine.sim.render(self.state)), 0.0)

    def _need_state(self) -> None:
        if self.state is None:
            raise SessionError("nothing to step yet: press reset (with a prompt, an upload or an example) first")

    def _action(self) -> np.ndarray:
        a = np.zeros(self.engine.model.action_dim, np.float32)
        if self.push_left > 0 and self.world == "push":
            a[:2] = DIRECTIONS[self.push_dir]
            self.push_left -= 1
        return a

    def step(self) -> dict:
        self._need_state()
        if len(self.recorded) >= self.cfg.max_clip_frames:
            raise SessionError(f"this clip reached the limit of {self.cfg.max_clip_frames} frames: download it, "
                               "then reset to go on", "clip_full")
        t0 = time.perf_counter()
        self.branches = None  # futures of an earlier moment are no longer a continuation
        self.state, out = self.engine.sim.step(self.state, self._action(), self.episode_key)
        frame = np.asarray(out.frame)
        return self._frame(frame, (time.perf_counter() - t0) * 1e3, out.readout)

    def push(self, direction: str) -> dict | None:
        """Queue a push of the agent ball; in other worlds an info message says it does nothing."""
        if self.engine.model.action_dim < 2:
            return {"type": "info", "code": "no_agent",
                    "message": "this model takes no actions (it was trained on plain video): pushes do nothing"}
        if self.world != "push":
            return {"type": "info", "code": "no_agent",
                    "message": "pushes act only in the push world: load a push example (or a prompt like "
                               "'... you push the red one: ...') and reset"}
        self.push_dir, self.push_left = direction, self.push_hold
        return None

    def branch(self) -> dict:
        """Fork the current state into cfg.branches futures of cfg.branch_frames frames each (no pushes)."""
        self._need_state()
        n, t, sim = self.cfg.branches, self.cfg.branch_frames, self.engine.sim
        t0 = time.perf_counter()
        still = np.zeros((n, t, self.engine.model.action_dim), np.float32)
        states, outs = sim.rollout(sim.fork(self.state, n), still, self.episode_key)
        frames = np.asarray(outs.frames[:, :, -1])  # (n, T, H, W, 3)
        self.branches = (states, frames)
        return {"type": "branches", "episode": self.episode, "count": n, "frames": t,
                "ms": round((time.perf_counter() - t0) * 1e3, 1),
                "futures": [[b64(f) for f in future] for future in frames]}

    def choose(self, index: int) -> dict:
        """Continue from future `index` of the last branch: its frames join the recording."""
        if self.branches is None:
            raise SessionError("no branches to choose from: press branch first")
        states, frames = self.branches
        self.state = jax.tree.map(lambda x: x[index], states)
        self.branches = None
        for f in frames[index][:-1]:
            self._record(f)
        return self._frame(frames[index][-1], 0.0)

    # ----- output -----

    def _record(self, frame: np.ndarray) -> Tracked:
        if len(self.recorded) < self.cfg.max_clip_frames:
            self.recorded.append(frame)
        cur = Tracked(frame)
        self.prev = cur
        return cur

    def _latent_positions(self, readout) -> list[list[float] | None] | None:
        """Ball centres the model's state head reads from its latents (pixels per colour; None where it reads
        no ball), or None for a model without a state head: shown beside the tracker's, they show whether the
        latents carry the physics the frames show."""
        if readout is None:
            readout = self.engine.sim.readout(self.state)
            if readout is None:
                return None
        present = np.asarray(readout.present) > 0.5
        pos = np.asarray(world_to_pixel(np.asarray(readout.pos), self.engine.resolution))
        return [[round(float(x), 2), round(float(y), 2)] if p else None for p, (x, y) in zip(present, pos)]

    def _frame(self, frame: np.ndarray, ms: float, readout=None) -> dict:
        prev = self.prev
        cur = self._record(frame)
        ke, p = energy_momentum(prev, cur, self.engine.resolution, self.engine.dt)
        return {"type": "frame", "episode": self.episode, "t": int(jnp.asarray(self.state.t)), "rgb": b64(frame),
                "tracks": cur.rows(), "latent": self._latent_positions(readout), "ke": ke, "p": p,
                "ms": round(ms, 2), "recorded": len(self.recorded),
                "world": self.world, "agent": self.agent, "pushing": self.push_dir if self.push_left else None}

    def clip(self) -> list[np.ndarray]:
        """The recorded frames so far (a snapshot list; cheap, safe to take from another thread)."""
        if not self.recorded:
            raise SessionError("nothing recorded yet: reset and step first")
        return list(self.recorded)
