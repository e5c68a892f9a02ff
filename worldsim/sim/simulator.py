"""`Simulator`: the thin stateful shell over the pure core. Python strings and numpy arrays in, validated, then
the jitted core (vmapped over any leading batch axes of the state). It holds no episode state: states go in and
come out, so forks, replays and many episodes at once are plain values. Compiled code lives in
worldsim.sim.compiled, shared by every Simulator: stepping never retraces.

    sim = ws.Simulator(model)
    state = sim.reset(key, prompt="a red ball", frames=None)
    state, out = sim.step(state, action, key)          # out.frame uint8 (H, W, 3)
    state, outs = sim.rollout(state, actions, key)     # actions (T, A)
    branches = ws.fork(state, 8)                       # a batch of 8: sim.step takes it as it is
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from worldsim.io import compile_cache
from worldsim.sim import checks, compiled, core
from worldsim.sim.model import WorldModel
from worldsim.sim.state import Readout, SimState, StepOutput


class Simulator:
    """Simulator(model, batch_size=None): reset makes one episode (batch_size=None) or a batch of independent
    episodes; step / rollout / render / readout take a state of any batch shape (e.g. from ws.fork).

    steps / temperature / reproject / first_temperature / first_guidance: sampling settings (None = the model's
    own: Euler steps from its config, the rest from model.sampling, see worldsim.sim.model.Sampling;
    first_temperature and first_guidance are for a first frame drawn from the prompt alone). terminal_fn(readout)
    -> bool ends an episode (states then absorb further steps; stepping one whose every episode ended is an error).
    """

    def __init__(self, model: WorldModel, batch_size: int | None = None, *, steps: int | None = None,
                 temperature: float | None = None, reproject: bool | None = None,
                 terminal_fn: core.TerminalFn | None = None, first_temperature: float | None = None,
                 first_guidance: float | None = None):
        if not isinstance(model, WorldModel):
            raise TypeError(f"Simulator needs a WorldModel, got {type(model).__name__}: make one with "
                            "ws.load('default') or ws.load(path)")
        checks.check_sampling(steps, temperature, reproject, first_temperature, first_guidance)
        temperature = model.sampling.temperature if temperature is None else temperature
        first = model.sampling.first_temperature if first_temperature is None else first_temperature
        reproject = model.sampling.reproject if reproject is None else reproject
        guidance = model.sampling.first_guidance if first_guidance is None else first_guidance
        if terminal_fn is not None and not model.has_state_head:  # here, not at the first step's trace
            raise ValueError(f"terminal_fn reads the physics readout, but {model.no_readout}")
        self.model = model
        self.batch_size = checks.check_batch_size(batch_size)
        self.steps, self.temperature, self.terminal_fn = steps, float(temperature), terminal_fn
        self.first_temperature, self.first_guidance = float(first), float(guidance)
        self.reproject = reproject
        self._template = compile_cache.structure_cache(  # a state's shapes: traced once, then kept on disk
            f"SimState {model.tokenizer.config.to_dict()} {model.dynamics.config.to_dict()}",
            lambda: jax.eval_shape(lambda: core.init(model, jax.random.key(0))))

    def __repr__(self) -> str:
        return f"Simulator({self.model.source!r}, batch_size={self.batch_size})"

    def _kw(self) -> dict:
        return dict(steps=self.steps, terminal_fn=self.terminal_fn, reproject=self.reproject)

    # ----- the API -----

    def reset(self, key, prompt=None, frames=None, actions=None) -> SimState:
        """New episode(s). prompt: a str (or, with batch_size, one str per episode); frames: uint8 (k, H, W, 3)
        initial frames (with batch_size also (B, k, H, W, 3)); actions: (k - 1, A) taken between them."""
        key, b, m = checks.check_key(key), self.batch_size, self.model
        text = checks.check_prompt(prompt, b, m.max_text_bytes)
        frames = checks.check_frames(frames, b, m.resolution)
        if actions is not None:
            if frames is None:
                raise ValueError("actions go between initial frames: pass frames too (or no actions)")
            lead = frames.shape[:-4] + (frames.shape[-4] - 1,)
            actions = checks.check_actions(actions, lead, m.action_dim, "actions (between initial frames)")
        if b is None:
            return compiled.init(m, key, text, frames, actions, self.first_temperature, steps=self.steps,
                                 reproject=self.reproject, guidance=self.first_guidance)
        # A batch: independent episodes (own keys, own fork lineage, so one step key samples each differently).
        state = compiled.init(m, jax.random.split(key, b), text, frames, actions, self.first_temperature, rank=1,
                              steps=self.steps, reproject=self.reproject, guidance=self.first_guidance)
        return state._replace(branch=core.branch_ids(jnp.zeros((), jnp.uint32), b))

    def _check_live(self, state) -> tuple[int, ...]:
        batch = checks.check_state(state, self._template)
        if bool(jnp.all(state.done)):
            raise ValueError("the episode has ended (state.done is True): start a new one with sim.reset(...)")
        return batch

    def step(self, state: SimState, action, key, *, decode: bool = True) -> tuple[SimState, StepOutput]:
        """action: (*batch, A). decode=False skips decoding frames (out.frames None): cheap for planning."""
        batch = self._check_live(state)
        a = checks.check_actions(action, batch, self.model.action_dim)
        return compiled.step(self.model, state, a, checks.check_key(key), self.temperature, rank=len(batch),
                             decode=checks.check_flag(decode, "decode"), **self._kw())

    def rollout(self, state: SimState, actions, key, *, decode: bool = True) -> tuple[SimState, StepOutput]:
        """actions: (*batch, T, A); one compiled lax.scan. Outputs have leading (*batch, T) axes."""
        batch = self._check_live(state)
        a = checks.as_array(actions, "actions")
        if a.ndim != len(batch) + 2 or a.shape[len(batch)] < 1:
            raise ValueError(f"actions must have shape {batch + ('T', self.model.action_dim)} with T >= 1 steps, "
                             f"got {tuple(a.shape)}: pass one action per step")
        a = checks.check_actions(a, batch + (a.shape[len(batch)],), self.model.action_dim, "actions")
        return compiled.rollout(self.model, state, a, checks.check_key(key), self.temperature, rank=len(batch),
                                decode=checks.check_flag(decode, "decode"), **self._kw())

    def fork(self, state: SimState, n: int) -> SimState:
        """n independent copies along a new leading axis (see ws.fork)."""
        checks.check_state(state, self._template)
        return core.fork(state, checks.check_fork(n))

    def render(self, state: SimState) -> jax.Array:
        """uint8 (*batch, H, W, 3): the current frame(s)."""
        return compiled.render(self.model, state, rank=len(checks.check_state(state, self._template)))

    def readout(self, state: SimState) -> Readout | None:
        """Physical state of the current frame(s), per colour slot (None without a state head)."""
        return compiled.readout(self.model, state, rank=len(checks.check_state(state, self._template)))
