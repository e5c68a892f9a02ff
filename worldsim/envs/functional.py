"""A gymnax-style pure functional environment over the simulator core: usable under jit, vmap and lax.scan.

    env = FunctionalEnv(task=ReachGoal(), max_steps=50)   # world="push": each episode starts from a push scene
    params = env_params(model)                             # or env_params(model, prompt="a red ball", frames=...)
    obs, state = env.reset(key, params)                    # a different scene per key, the same for the same key
    obs, state, reward, done, info = env.step(key, state, action, params)   # auto-resets when done

`reset_env` / `step_env` are the same without auto-reset (step_env also tells terminated from truncated). The
env object holds only static settings (a hashable frozen dataclass); everything with arrays, the model included,
is in `params`, so new weights or prompts never recompile (switching between a world scene and a given
start does, once).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from worldsim.envs import autoreset, scenes
from worldsim.envs.tasks import NoTask, ReachGoal, check_object, object_colour
from worldsim.sim import SimState, WorldModel, checks, compiled, core, load


class EnvParams(NamedTuple):
    """Arrays the environment runs on (a pytree). Make it with env_params()."""

    model: WorldModel
    text: tuple[jax.Array, jax.Array] | None  # prompt (bytes (L,), mask (L,)); None = no prompt
    frames: jax.Array | None = None  # uint8 (k, H, W, 3) frames every episode starts from (see FunctionalEnv.world)
    frame_actions: jax.Array | None = None  # (k - 1, A) actions between those frames


def as_model(model) -> WorldModel:
    """A WorldModel, or "default" / a directory to load one from (what the adapters' `model=` accepts)."""
    if isinstance(model, WorldModel):
        return model
    if isinstance(model, (str, Path)):
        return load(model)
    raise TypeError(f"model must be a WorldModel, 'default' or a directory, got {type(model).__name__}: pass "
                    "ws.load(...) or a path")


def env_params(model: WorldModel, prompt: str | None = None, frames=None, frame_actions=None) -> EnvParams:
    """Validated EnvParams from Python/numpy values (the same checks as the Simulator's reset). Without a prompt
    and frames, each episode starts from a scene of the env's world (FunctionalEnv.world)."""
    text = checks.check_prompt(prompt, None, model.max_text_bytes)
    frames = checks.check_frames(frames, None, model.resolution)
    if frame_actions is not None:
        if frames is None:
            raise ValueError("frame_actions go between initial frames: pass frames too (or no frame_actions)")
        frame_actions = checks.check_actions(frame_actions, (frames.shape[0] - 1,), model.action_dim,
                                             "frame_actions")
    text = None if text is None else (jnp.asarray(text[0]), jnp.asarray(text[1]))
    return EnvParams(model, text, None if frames is None else jnp.asarray(frames), frame_actions)


@dataclass(frozen=True)
class FunctionalEnv:
    """Observations: uint8 (H, W, 3) frames (decode=True) or (g, g, D) latents. Actions: (A,) clipped to [-1, 1]."""

    task: Any = field(default_factory=ReachGoal)  # reward/terminal functions of the readout (envs.tasks)
    max_steps: int = 100  # episodes are truncated after this many steps
    decode: bool = True  # observe frames (decoded); False observes latents (no tokenizer decode)
    steps: int | None = None  # flow sampling Euler steps (None = the model's default)
    temperature: float | None = None  # flow sampling noise scale (None = the model's, model.sampling)
    reproject: bool | None = None  # re-encode each new frame (None = the model's, model.sampling)
    first_temperature: float | None = None  # a first frame from the prompt alone (None = the model's)
    first_guidance: float | None = None  # its classifier-free guidance (None = the model's, model.sampling)
    world: str | None = scenes.DEFAULT_WORLD  # episodes without a prompt or frames start from this world's scenes
    start_frames: int = scenes.START_FRAMES  # frames of the world's scene each of those episodes is given

    def __post_init__(self):
        if isinstance(self.max_steps, bool) or not isinstance(self.max_steps, int) or self.max_steps < 1:
            raise ValueError(f"max_steps={self.max_steps!r}: use an integer >= 1")
        if not (hasattr(self.task, "reward") and hasattr(self.task, "terminal")):
            raise TypeError("task must have reward(readout) and terminal(readout) methods (see worldsim.envs.tasks)")
        check_sampling(self)
        scenes.check(self.world, self.start_frames)

    def scene(self, params: EnvParams):
        """The world config episodes start from, or None when params give a prompt or frames (or world=None)."""
        if self.world is None or params.text is not None or params.frames is not None:
            return None
        m = params.model
        return scenes.config(self.world, m.resolution, self.start_frames, m.action_dim, object_colour(self.task))

    def sampling(self, model: WorldModel) -> dict:
        """The sampling keywords of the core for `model`: this env's settings, else the model's own."""
        t = model.sampling.temperature if self.temperature is None else self.temperature
        r = model.sampling.reproject if self.reproject is None else self.reproject
        return {"temperature": float(t), "reproject": bool(r)}

    def init_sampling(self, model: WorldModel) -> dict:
        """The sampling keywords of core.init: its temperature and guidance are the first frame's (drawn from the
        prompt)."""
        t = model.sampling.first_temperature if self.first_temperature is None else self.first_temperature
        g = model.sampling.first_guidance if self.first_guidance is None else self.first_guidance
        return {**self.sampling(model), "temperature": float(t), "guidance": float(g)}

    def _observe(self, params: EnvParams, state: SimState) -> jax.Array:
        return core.render(params.model, state) if self.decode else state.latent

    def reset_env(self, key, params: EnvParams) -> tuple[jax.Array, SimState]:
        frames, actions, cfg = params.frames, params.frame_actions, self.scene(params)
        if cfg is not None:
            k_scene, key = jax.random.split(key)
            frames, actions = scenes.draw(cfg, k_scene, self.start_frames, params.model.action_dim,
                                          object_colour(self.task))
        state = core.init(params.model, key, params.text, frames, actions, steps=self.steps,
                          **self.init_sampling(params.model))
        if cfg is None:  # a given start may lack the task's ball (refused outside jit); a scene has it by design
            check_object(self.task, core.readout(params.model, state))
        return self._observe(params, state), state

    def outcome(self, model: WorldModel, state: SimState, new: SimState, out) -> tuple:
        """What a core step means for the task: (new state with done set, reward, terminated, truncated).
        A step on an already-ended state pays 0."""
        check_task(self.task, model)
        terminated = state.done | jnp.asarray(self.task.terminal(out.readout), bool)
        reward = jnp.where(out.valid, jnp.asarray(self.task.reward(out.readout), jnp.float32), 0.0)
        truncated = (new.t >= self.max_steps) & ~terminated
        return new._replace(done=terminated), reward, terminated, truncated

    def step_env(self, key, state: SimState, action, params: EnvParams):
        """-> (obs, state, reward, terminated, truncated, info); no auto-reset."""
        a = clip_action(action)
        new, out = core.step(params.model, state, a, key, decode=False, steps=self.steps,
                             **self.sampling(params.model))
        new, reward, terminated, truncated = self.outcome(params.model, state, new, out)
        info = {"terminated": terminated, "truncated": truncated, "t": new.t, "readout": out.readout}
        return self._observe(params, new), new, reward, terminated, truncated, info

    def reset(self, key, params: EnvParams) -> tuple[jax.Array, SimState]:
        return self.reset_env(key, params)

    def step(self, key, state: SimState, action, params: EnvParams):
        """gymnax semantics: -> (obs, state, reward, done, info); a finished episode is replaced by a new one in
        the same call (obs and state are then reset_env(k_reset, params)'s, with `_, k_reset =
        jax.random.split(key)`; reward, done and info are the step's). The reset runs only for the envs that are
        done, also under vmap (envs.autoreset), so a step costs about a step_env while no episode ends."""
        k_step, k_reset = jax.random.split(key)
        obs, new, reward, terminated, truncated, info = self.step_env(k_step, state, action, params)
        done = terminated | truncated
        obs, new = autoreset.where_done(lambda k, p: self.reset_env(k, p), done, k_reset, params, (obs, new))
        return obs, new, reward, done, info


def check_task(task, model: WorldModel) -> None:
    """Refuse a task that reads the physics readout on a model without one (rewards would read nothing)."""
    if not model.has_state_head and not isinstance(task, NoTask):
        raise ValueError(f"{type(task).__name__} reads the physics readout, but {model.no_readout} "
                         "(task=NoTask())")


def check_sampling(env: FunctionalEnv) -> None:
    """Sampling settings: None (the model's own) or a value of the right kind, refused with the fix otherwise (a
    string would fail later as 'could not convert string to float')."""
    checks.check_sampling(env.steps, env.temperature, env.reproject, env.first_temperature, env.first_guidance)
    if not isinstance(env.decode, bool):
        raise ValueError(f"decode={env.decode!r}: use True or False")


def clip_action(action) -> jax.Array:
    """The worlds clip actions to [-1, 1]; the model was trained on that range."""
    return jnp.clip(jnp.asarray(action, jnp.float32), -1.0, 1.0)


# Compiled pieces for the stateful adapters (Gymnasium, vector, dm_env). They step with the shared compiled core
# (worldsim.sim.compiled) and only jit the task's small outcome here, so every adapter and Simulator in a process
# shares one compile of the model; the env is static (hashable), the model an argument.


@functools.partial(jax.jit, static_argnames=("env", "rank"))
def outcome(env: FunctionalEnv, model, state, new, out, *, rank: int = 0):
    return compiled.vmap_n(lambda s, n, o: env.outcome(model, s, n, o), rank, 0)(state, new, out)
