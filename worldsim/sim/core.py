"""The pure simulator core (gymnax/pgx style): init / step / rollout / render / readout on one episode.

`params` is a `WorldModel` (an nnx Module, which is a pytree): jit these functions directly
(`jax.jit(step, static_argnames=...)`), vmap them with `in_axes=(None, 0, ...)`, or scan them. Nothing here
mutates the model, donates its inputs or keeps Python state, so a forked parent stays valid.

Step t feeds the current latent z_t with the action a_t to the dynamics (the action acts from frame t to t + 1,
as in the worlds), samples z_{t+1} from its output with the key fold_in(fold_in(key, t), branch), and then
runs z_{t+1} once more under a zero action without keeping the result in the cache, to read the physical state
of the new frame (the state head reads frame t from the output at z_t). Each step therefore costs two dynamics
steps and one flow sample, the same at t = 10_000 as at t = 1.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from worldsim.dynamics import encode_prompts
from worldsim.sim.model import WorldModel
from worldsim.sim.state import Readout, SimState, StepOutput

TerminalFn = Callable[[Readout], jax.Array]  # readout of the new frame -> () bool "the episode ends here"


def step_key(key: jax.Array, t: jax.Array, branch: jax.Array) -> jax.Array:
    """The key of step t: chunked rollouts equal one rollout, and forked branches differ."""
    return jax.random.fold_in(jax.random.fold_in(key, t), branch)


def _prompt_bytes(params: WorldModel, prompt) -> tuple[jax.Array, jax.Array] | None:
    """A str (outside jit) or (bytes (L,), mask (L,)) rows from encode_prompts -> (ids (1, L), mask (1, L))."""
    if prompt is None:
        return None
    if isinstance(prompt, (str, bytes)):  # Python text: only outside jit (the shell encodes it first)
        ids, mask = encode_prompts([prompt], params.max_text_bytes)
    else:
        ids, mask = prompt
    return jnp.asarray(ids)[None], jnp.asarray(mask, bool)[None]


def _text_emb(params: WorldModel, prompt_bytes, text_emb) -> jax.Array:
    """-> (d,): precomputed text_emb, else the encoded prompt bytes, else the learned no-text vector."""
    if prompt_bytes is not None and text_emb is not None:
        raise ValueError("pass either prompt or text_emb, not both")
    if text_emb is not None:
        return jnp.asarray(text_emb, jnp.float32)
    if prompt_bytes is None:
        return params.dynamics.no_text[...]
    return params.dynamics.encode_text(prompt_bytes)[0]


def _peek(params: WorldModel, cache, z) -> jax.Array:
    """Dynamics output at latent z (1, g, g, D) under a zero action, leaving the cache as it was -> (N, d)."""
    h, _ = params.dynamics.step(cache, z, jnp.zeros((1, params.action_dim), jnp.float32))
    return h[0]


def _reproject(params: WorldModel, prev, z) -> jax.Array:
    """Decode the new latent z (1, g, g, D) and encode it again after prev (the previous latent (g, g, D), or None
    for a first frame): the latent real frames would make, which stops small errors compounding over a rollout."""
    tok = params.tokenizer
    new = tok.decode(z[None])[0]  # (1, H, W, 3) uint8
    if prev is None:
        return tok.encode(new[None])[0]
    frames = jnp.concatenate([tok.decode(prev[None, None])[0], new])  # (2, H, W, 3)
    return tok.encode(frames[None])[0, 1:]


def init(params: WorldModel, key, prompt=None, frames=None, actions=None, *, text_emb=None,
         steps: int | None = None, temperature: float = 1.0, reproject: bool = False,
         guidance: float = 1.0) -> SimState:
    """A new episode from a text prompt and/or initial frames.

    prompt: a str (outside jit), or (bytes (L,), mask (L,)) from encode_prompts, or None (no text);
    text_emb: (d,) precomputed instead (model.dynamics.encode_text);
    frames: uint8 (k, H, W, 3) frames to start from: all are encoded, the first k - 1 run through the dynamics
      (with `actions` (k - 1, A) between them, zeros if None) and the last becomes the current frame;
      None: the first frame is sampled from the prompt with `key`, at `temperature` (the shells pass
      Sampling.first_temperature here: init samples no other frame), by the model's layout prior or else its
      first-frame prior when it has one and a prompt is given (not a text_emb), else by the flow head from the
      prompt position;
    guidance: the first-frame prior's classifier-free guidance (a Python float; Sampling.first_guidance in the
      shells; a layout prior takes none).
    """
    dyn = params.dynamics
    prompt_bytes = _prompt_bytes(params, prompt)
    emb = _text_emb(params, prompt_bytes, text_emb)
    h, cache = dyn.prefill(dyn.init_cache(1), text_emb=emb[None])
    if frames is None:
        if dyn.has_first_frame_prior and prompt_bytes is not None:  # a (layout or first-frame) prior reads each byte
            z = dyn.sample_first_frame(*prompt_bytes, key, steps, temperature, guidance)  # (1, g, g, D)
        else:
            z = dyn.sample_frame(h, key, steps, temperature)
        if reproject:
            z = _reproject(params, None, z)
    else:
        frames = jnp.asarray(frames)
        if frames.dtype != jnp.uint8 or frames.ndim != 4:
            raise TypeError(f"frames must be uint8 (k, H, W, 3), got {frames.dtype}{frames.shape}: pass uint8 "
                            "frames (ws.Simulator converts floats in [0, 1])")
        zs = params.tokenizer.encode(frames[None])[0]  # (k, g, g, D): causal, so frame t sees only frames <= t
        a = jnp.zeros((zs.shape[0] - 1, params.action_dim), jnp.float32) if actions is None else jnp.asarray(
            actions, jnp.float32)

        def feed(c, za):
            _, c = dyn.step(c, za[0][None], za[1][None])
            return c, None

        cache, _ = jax.lax.scan(feed, cache, (zs[:-1], a))
        z = zs[-1:]
    return SimState(cache=cache, hidden=_peek(params, cache, z), latent=z[0], text_emb=emb,
                    t=jnp.zeros((), jnp.int32), done=jnp.zeros((), bool), branch=jnp.zeros((), jnp.uint32))


BOX = (0.0, 1.0)  # the worlds' box, [0, 1]^2 in world units (worldsim.worlds.config)


def readout(params: WorldModel, state: SimState) -> Readout | None:
    """Physical state of the current frame (None when the model has no state head, or an untrained one: see
    WorldModel.no_readout). Positions are clipped to the box: the head's linear output is not bounded, and
    squashing it in the head would move a trained head's readings (the shipped one's by 0.1-0.2 world units, on
    held-out clips whose positions all lie inside the box), where clipping leaves them as they are."""
    if not params.has_state_head:
        return None
    p = params.dynamics.read_state(state.hidden)
    return Readout(present=jax.nn.sigmoid(p.present_logit), pos=jnp.clip(p.pos, *BOX), vel=p.vel)


def render(params: WorldModel, state: SimState) -> jax.Array:
    """uint8 (H, W, 3): the current frame."""
    return params.tokenizer.decode(state.latent[None, None])[0, 0]


def _select(pred, a, b):
    return jax.tree.map(lambda x, y: jnp.where(pred, x, y), a, b)


def step(params: WorldModel, state: SimState, action, key, *, decode: bool = True, steps: int | None = None,
         temperature: float = 1.0, reproject: bool = False, terminal_fn: TerminalFn | None = None) -> tuple[SimState, StepOutput]:
    """Apply action (A,) for one frame; each component is clipped to [-1, 1], the range the worlds and envs use
    (the shells refuse non-finite actions before). decode=False skips decoding the output frame (frames=None): cheap for
    planning. steps / temperature: flow sampling Euler steps (None = the model's default) and noise scale (0 = the
    mean flow); reproject: see worldsim.sim.model.Sampling. The new latent frame is the flow head's sample (after
    the optional reprojection), nothing else. terminal_fn(readout) -> bool marks the new state
    terminal. A terminal state is absorbing: stepping it returns it unchanged with out.valid False."""
    dyn = params.dynamics
    a = jnp.asarray(action, jnp.float32)
    if a.shape != (params.action_dim,):
        raise ValueError(f"action must have shape ({params.action_dim},), got {a.shape}")
    a = jnp.clip(a, -1.0, 1.0)  # the worlds' and envs' action range: the model never saw larger pushes
    h, cache = dyn.step(state.cache, state.latent[None], a[None])
    z = dyn.sample_frame(h, step_key(key, state.t, state.branch), steps, temperature)  # (1, g, g, D)
    if reproject:
        z = _reproject(params, state.latent, z)
    new = state._replace(cache=cache, hidden=_peek(params, cache, z), latent=z[0], t=state.t + 1)
    if terminal_fn is not None:
        if not params.has_state_head:
            raise ValueError(f"terminal_fn reads the physical state, but {params.no_readout}")
        new = new._replace(done=jnp.asarray(terminal_fn(readout(params, new)), bool).reshape(()))
    new = _select(state.done, state, new)  # absorbing terminal state
    frames = params.tokenizer.decode(new.latent[None, None])[0] if decode else None  # (1, H, W, 3)
    out = StepOutput(frames=frames, latent=new.latent, readout=readout(params, new), t=new.t, done=new.done,
                     valid=~state.done)
    return new, out


def rollout(params: WorldModel, state: SimState, actions, key, *, decode: bool = True, **kw) -> tuple[
        SimState, StepOutput]:
    """lax.scan of step over actions (T, A) with one key (step t uses step_key(key, t, branch)). Outputs are
    stacked along a leading T axis. kw: steps, temperature, reproject, terminal_fn."""
    return jax.lax.scan(lambda s, a: step(params, s, a, key, decode=decode, **kw), state, jnp.asarray(actions))


_GOLDEN = np.uint32(0x9E3779B1)


def _mix(parent: jax.Array, i: jax.Array) -> jax.Array:
    """A uint32 hash of (parent branch, child index): children of one parent, and of different parents, differ."""
    x = parent.astype(jnp.uint32) * _GOLDEN ^ i.astype(jnp.uint32)
    x = (x ^ (x >> 16)) * np.uint32(0x85EBCA6B)
    x = (x ^ (x >> 13)) * np.uint32(0xC2B2AE35)
    return x ^ (x >> 16)


def fork(state: SimState, n: int) -> SimState:
    """n independent copies of a state (or of a batch of states) along a new leading axis. The copies share the
    past but draw different samples from the same key; forking the same state again gives the same copies."""
    if not isinstance(state, SimState):
        raise TypeError(f"fork needs a SimState, got {type(state).__name__}: pass the state sim.reset or sim.step "
                        "returned")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"fork needs an integer n >= 1 copies, got {n!r}: pass how many copies you want")
    n = int(n)
    tiled = jax.tree.map(lambda x: jnp.broadcast_to(x, (n,) + jnp.shape(x)), state)
    return tiled._replace(branch=branch_ids(state.branch, n))


def branch_ids(parent: jax.Array, n: int) -> jax.Array:
    """(n, *parent.shape) uint32 lineage ids of n children of parent."""
    child = jnp.arange(1, n + 1, dtype=jnp.uint32).reshape((n,) + (1,) * jnp.ndim(parent))
    return _mix(jnp.asarray(parent)[None], child)
