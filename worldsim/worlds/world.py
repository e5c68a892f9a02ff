"""`World`: the thin stateful shell over the pure world functions (jitted once per config)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from worldsim.worlds import dynamics, render as render_lib, violations
from worldsim.worlds.captions import describe
from worldsim.worlds.config import WorldConfig
from worldsim.worlds.init import initial_state
from worldsim.worlds.state import BallState, Episode

MAX_BATCH = 65536


def _check_batch(batch_size) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r}: use an integer >= 1")
    if batch_size > MAX_BATCH:
        raise ValueError(f"batch_size={batch_size} is too large: sample at most {MAX_BATCH} clips per call, in chunks")
    return int(batch_size)


def _check_key(key) -> jax.Array:
    key = jnp.asarray(key)
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return key
    if key.shape == (2,) and key.dtype == jnp.uint32:
        return key
    raise ValueError(f"expected a PRNG key such as jax.random.key(0) or PRNGKey(0), got {key.dtype}{key.shape}")


@functools.lru_cache(maxsize=64)
def _compiled(cfg: WorldConfig):
    """Jitted batched functions for one config (configs are hashable frozen dataclasses)."""

    def one(key):
        k_s, k_a = jax.random.split(key)
        s0 = initial_state(cfg, k_s)
        actions = dynamics.random_actions(cfg, k_a)
        states, walls = dynamics.simulate(cfg, s0, actions)
        return states, actions, walls

    def draw(states):
        # Render a few clips at a time: one big broadcast over (B, T, H, W) spills the caches and ran 3x slower.
        return jax.lax.map(lambda s: render_lib.render(s, cfg.resolution, cfg.occluder), states, batch_size=8)

    def sample(key, batch_size):
        states, actions, walls = jax.vmap(one)(jax.random.split(key, batch_size))
        return draw(states), states, actions, walls

    def pairs(key, batch_size, kind):
        states, actions, tv, ball = jax.vmap(lambda k: violations.violation_pair(cfg, kind, k))(
            jax.random.split(key, batch_size)
        )
        return draw(states), states, actions, tv, ball

    return {
        "sample": jax.jit(sample, static_argnums=1),
        "pairs": jax.jit(pairs, static_argnums=(1, 2)),
        "reset": jax.jit(jax.vmap(lambda k: initial_state(cfg, k))),
        "step": jax.jit(jax.vmap(lambda s, a: dynamics.step(cfg, s, a)[0])),
        "render": jax.jit(lambda s: render_lib.render(s, cfg.resolution, cfg.occluder)),
    }


@dataclass(frozen=True)
class ViolationPair:
    """Matched clips from one start: identical before `frame`, lawful (`possible`) or not (`impossible`) after."""

    possible: Episode
    impossible: Episode
    frame: np.ndarray  # (B,) first frame index that differs
    ball: np.ndarray  # (B,) slot of the ball the violation touches
    kind: str


class World:
    """A ball world. Make one with `worldsim.worlds.make(name, ...)`."""

    def __init__(self, name: str, config: WorldConfig, split: str = "id"):
        self.name, self.config, self.split = name, config, split

    def __repr__(self):
        return f"World({self.name!r}, split={self.split!r}, {self.config})"

    @property
    def action_dim(self) -> int:
        return self.config.action_dim

    # --- closed-loop use: reset / step (batched), e.g. to act in the real world with a planner ---
    def reset(self, key, batch_size: int = 1) -> BallState:
        """(B, K, ...) random initial states."""
        keys = jax.random.split(_check_key(key), _check_batch(batch_size))
        return _compiled(self.config)["reset"](keys)

    def step(self, states: BallState, actions=None) -> BallState:
        """Advance (B, K, ...) states one frame; actions (B, A) with A = action_dim (ignored when A = 0)."""
        b = states.pos.shape[0]
        if actions is None:
            actions = jnp.zeros((b, self.action_dim), jnp.float32)
        actions = jnp.asarray(actions, jnp.float32)
        if actions.shape != (b, self.action_dim):
            raise ValueError(f"actions must have shape {(b, self.action_dim)} for this batch, got {actions.shape}")
        if not bool(jnp.all(jnp.isfinite(actions))):
            raise ValueError("actions contain NaN or inf: pass finite values (they are clipped to [-1, 1])")
        return _compiled(self.config)["step"](states, actions)

    def play(self, states: BallState, actions) -> Episode:
        """The clip that initial states (B, K, ...) make under given actions (B, T, A) (zeros of shape (B, T, 0) or
        None for passive worlds with T = num_frames): frame 0 is `states`, frame t + 1 follows actions[:, t]."""
        b, t = states.pos.shape[0], self.config.num_frames
        actions = np.zeros((b, t, self.action_dim), np.float32) if actions is None else np.asarray(actions, np.float32)
        if actions.shape != (b, t, self.action_dim):
            raise ValueError(f"actions must have shape {(b, t, self.action_dim)} (batch, num_frames, action_dim), "
                             f"got {actions.shape}")
        seq = [states]
        for i in range(t - 1):
            seq.append(self.step(seq[-1], actions[:, i]))
        stacked = jax.tree.map(lambda *xs: jnp.stack(xs, axis=1), *seq)  # (B, T, K, ...)
        return self._episode(self.render(stacked), stacked, jnp.asarray(actions))

    # --- whole clips ---
    def sample(self, key, batch_size: int = 1) -> Episode:
        """`batch_size` random clips: frames, exact states, actions (random policy in push), captions, facts."""
        frames, states, actions, _ = _compiled(self.config)["sample"](_check_key(key), _check_batch(batch_size))
        return self._episode(frames, states, actions)

    def sample_with_contacts(self, key, batch_size: int = 1) -> tuple[Episode, jax.Array]:
        """Like `sample`, plus (B, T) the number of ball-wall contacts that happened just before each frame."""
        frames, states, actions, walls = _compiled(self.config)["sample"](_check_key(key), _check_batch(batch_size))
        return self._episode(frames, states, actions), walls

    def sample_violations(self, key, batch_size: int, kind: str) -> ViolationPair:
        """Matched possible / impossible clips (see worldsim.worlds.violations for the kinds)."""
        if kind not in violations.KINDS:
            raise ValueError(f"unknown violation kind {kind!r}: choose one of {', '.join(violations.KINDS)}")
        if kind == "gravity_flip" and self.config.gravity <= 0:
            raise ValueError(f"gravity_flip needs gravity > 0, and world {self.name!r} has none: use 'gravity'")
        frames, states, actions, tv, ball = _compiled(self.config)["pairs"](
            _check_key(key), _check_batch(batch_size), kind
        )
        take = lambda i: jax.tree.map(lambda x: x[:, i], states)  # noqa: E731
        return ViolationPair(
            possible=self._episode(frames[:, 0], take(0), actions),
            impossible=self._episode(frames[:, 1], take(1), actions),
            frame=np.asarray(tv),
            ball=np.asarray(ball),
            kind=kind,
        )

    def render(self, states: BallState) -> jax.Array:
        """uint8 (..., H, W, 3) frames of ANY states with leaves (..., K, 2) / (..., K) / gravity (..., 2)."""
        _check_states(states)
        return _compiled(self.config)["render"](states)

    def _episode(self, frames, states, actions) -> Episode:
        first = jax.tree.map(lambda x: np.asarray(x[:, 0]), states)
        captions, facts = [], []
        for b in range(frames.shape[0]):
            s0 = {f: getattr(first, f)[b] for f in ("pos", "vel", "radius", "colour", "present")}
            c, f = describe(self.name, s0, self.config.gravity, self.config.controllable)
            captions.append(c)
            facts.append(f)
        return Episode(frames, states, actions, captions, facts, self.name, self.config.dt)


def _check_states(s) -> None:
    if not isinstance(s, BallState):
        raise TypeError(f"render expects a worldsim.worlds.BallState, got {type(s).__name__}")
    pos = jnp.shape(s.pos)
    if len(pos) < 2 or pos[-1] != 2:
        raise ValueError(f"states.pos must have shape (..., K, 2), got {pos}")
    lead_k = pos[:-1]
    for field in ("radius", "colour", "present"):
        shape = jnp.shape(getattr(s, field))
        if shape != lead_k:
            raise ValueError(f"states.{field} must have shape {lead_k} to match pos {pos}, got {shape}")
    if jnp.shape(s.pos)[-2] > 6:
        raise ValueError("at most 6 balls can be rendered (one per palette colour)")
    if isinstance(s.pos, jax.core.Tracer) or isinstance(s.radius, jax.core.Tracer):
        return  # values are only known outside jit
    # A NaN, infinite or negative value draws nothing (a blank frame that looks like a valid empty scene).
    present = np.asarray(s.present, bool)
    pos, radius = np.asarray(s.pos)[present], np.asarray(s.radius)[present]
    if not (np.isfinite(pos).all() and np.isfinite(radius).all()):
        raise ValueError("states.pos / states.radius hold NaN or inf for present balls: pass finite values (or "
                         "set present=False for slots without a ball)")
    if (radius < 0).any():
        raise ValueError(f"states.radius holds negative values (min {radius.min():.3g}) for present balls: pass "
                         "radii >= 0 in world units (the worlds use about 0.04-0.13)")
