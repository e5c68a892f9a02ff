"""Validation at the Simulator boundary: Python and numpy inputs checked before any jitted code sees them, so a
mistake is a ValueError/TypeError that names the fix, never an XLA error or a silent NaN."""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp
import numpy as np

from worldsim.dynamics import encode_prompts
from worldsim.sim.state import SimState


def _dtype(x):
    return getattr(x, "dtype", None)


def as_array(x, what: str) -> np.ndarray | jax.Array:
    """numpy / jax arrays pass; nested lists become numpy; anything else is a TypeError."""
    if isinstance(x, (np.ndarray, jax.Array)):
        return x
    if isinstance(x, (list, tuple, int, float, np.number)) and not isinstance(x, bool):
        try:
            return np.asarray(x)
        except ValueError:
            raise ValueError(f"{what} is a ragged list: pass a numpy array") from None
    raise TypeError(f"{what} must be a numpy or jax array, got {type(x).__name__}: pass np.asarray(...) of numbers")


def check_key(key) -> jax.Array:
    """A single PRNG key: jax.random.key(seed) (typed) or jax.random.PRNGKey(seed) (uint32[2])."""
    if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key) and key.shape == ():
        return key
    if isinstance(key, (np.ndarray, jax.Array)) and key.shape == (2,) and key.dtype == np.uint32:
        return jnp.asarray(key)
    shape = getattr(key, "shape", "")
    raise TypeError(f"expected one PRNG key such as jax.random.key(0), got {type(key).__name__}"
                    f"{_dtype(key) or ''}{shape}; make one with jax.random.key(seed)")


def check_batch_size(batch_size) -> int | None:
    if batch_size is None:
        return None
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r}: use None (one episode) or an integer >= 1")
    return int(batch_size)


def check_prompt(prompt, batch: int | None, max_bytes: int):
    """None, one prompt (str), or one per episode (a list of batch str) -> (ids, mask) with a batch axis when
    batch is set, else without; None stays None."""
    if prompt is None:
        return None
    if isinstance(prompt, (str, bytes)):
        ids, mask = encode_prompts([prompt], max_bytes)
        return (ids[0], mask[0]) if batch is None else (np.repeat(ids, batch, 0), np.repeat(mask, batch, 0))
    if not isinstance(prompt, (list, tuple)):
        raise TypeError(f"prompt must be a str (or a list of one str per episode), got {type(prompt).__name__}: "
                        "pass the text, or prompt=None for none")
    if batch is None:
        raise ValueError("a list of prompts needs Simulator(model, batch_size=len(prompts)); pass one str here")
    if len(prompt) != batch:
        raise ValueError(f"got {len(prompt)} prompts for batch_size={batch}: pass one per episode, or one str")
    return encode_prompts(prompt, max_bytes)


def check_frames(frames, batch: int | None, resolution: int) -> np.ndarray | None:
    """Initial frames -> uint8 (k, H, W, 3), or (B, k, H, W, 3) when batch is set (a (k, H, W, 3) stack is
    shared by every episode). A single (H, W, 3) frame is taken as k = 1. Floats must lie in [0, 1]."""
    if frames is None:
        return None
    x = np.asarray(as_array(frames, "frames"))
    if x.ndim == 3:
        x = x[None]
    want = f"(k, {resolution}, {resolution}, 3)" + ("" if batch is None else f" or ({batch}, k, ...)")
    if x.ndim not in (4, 5) or x.shape[-1] != 3 or (x.ndim == 5 and batch is None):
        raise ValueError(f"frames must be {want} RGB, got shape {x.shape}: pass a stack of RGB frames")
    if x.shape[-3:-1] != (resolution, resolution):
        raise ValueError(f"frames are {x.shape[-3]}x{x.shape[-2]} but this model takes {resolution}x{resolution}: "
                         f"resize them, e.g. worldsim.io.read_video(path, resolution={resolution})")
    if x.shape[-4] < 1:
        raise ValueError("frames is empty: pass at least one frame, or frames=None to start from the prompt")
    if x.ndim == 5 and x.shape[0] != batch:
        raise ValueError(f"frames has {x.shape[0]} episodes for batch_size={batch}: pass {batch}, or one stack")
    if x.dtype == np.uint8:
        pass
    elif np.issubdtype(x.dtype, np.floating):
        if not np.isfinite(x).all():
            raise ValueError("frames contain NaN or inf: pass finite values (uint8, or floats in [0, 1])")
        if x.size and (x.min() < 0.0 or x.max() > 1.0):
            raise ValueError(f"float frames must lie in [0, 1], got [{x.min():.3g}, {x.max():.3g}]: pass uint8 "
                             "frames, or divide by 255")
        x = np.round(x * 255.0).astype(np.uint8)
    else:
        raise TypeError(f"frames must be uint8 (or float in [0, 1]), got {x.dtype}: use frames.astype(np.uint8) "
                        "for 0-255 values")
    if batch is not None and x.ndim == 4:
        x = np.broadcast_to(x, (batch,) + x.shape)
    return x


def check_actions(actions, lead: tuple[int, ...], action_dim: int, what: str = "action") -> jax.Array:
    """Numeric, finite (*lead, A) -> float32. lead is the batch (and time) shape the caller expects."""
    a = as_array(actions, what)
    want = tuple(lead) + (action_dim,)
    if tuple(a.shape) != want:
        raise ValueError(f"{what} must have shape {want} (this model takes {action_dim}-vectors"
                         f"{'; leading axes ' + str(tuple(lead)) if lead else ''}), got {tuple(a.shape)}: pass one "
                         f"{action_dim}-vector per episode and step")
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise TypeError(f"{what} must be a float array, got {a.dtype}: pass numbers (e.g. np.float32)")
    a = jnp.asarray(a, jnp.float32)
    if not bool(jnp.isfinite(a).all()):
        raise ValueError(f"{what} contains NaN or inf: pass finite values (use zeros for 'no action')")
    return a


def check_state(state, template: SimState) -> tuple[int, ...]:
    """A SimState made by this simulator's model, with any batch shape -> the batch shape."""
    if not isinstance(state, SimState):
        raise TypeError(f"expected a SimState, got {type(state).__name__}: pass the state sim.reset or sim.step "
                        "returned")
    batch = tuple(np.shape(state.t))
    try:
        ok = jax.tree.structure(state) == jax.tree.structure(template) and all(
            tuple(np.shape(x)) == batch + tuple(y.shape) and _dtype(x) == y.dtype
            for x, y in zip(jax.tree.leaves(state), jax.tree.leaves(template)))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError("this state does not come from this simulator's model (its shapes differ): make it "
                         "with sim.reset(...) on the same model")
    bad = [name for name, finite in zip(SimState._fields, _finite_fields(state)) if not bool(finite)]
    if bad:  # a NaN latent would decode to black frames and step on as NaN, silently
        raise ValueError(f"this state holds NaN or inf (in {', '.join(bad)}), which sim.reset / sim.step never "
                         "make: start again from sim.reset(...), or pass a state you did not edit by hand")
    return batch


@jax.jit
def _finite_fields(state: SimState) -> tuple:
    """Per SimState field: are all its float values finite? One compiled reduction (no copy to the host)."""
    def finite(x):
        return jnp.isfinite(x).all() if jnp.issubdtype(x.dtype, jnp.floating) else jnp.ones((), bool)

    return tuple(jnp.all(jnp.stack([finite(x) for x in jax.tree.leaves(f)] or [jnp.ones((), bool)]))
                 for f in state)


def check_sampling(steps, temperature, reproject, first_temperature, first_guidance) -> None:
    """Sampling settings as the Simulator and the envs take them: each None (the model's own) or a value of the
    right kind, refused by name with the fix (a string would fail later as 'could not convert string to float')."""
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise ValueError(f"steps={steps!r}: use None (the model's default) or an integer >= 1")
    for name, value, meaning in (("temperature", temperature, "0 = the mean flow"),
                                 ("first_temperature", first_temperature, "0 = the mean flow"),
                                 ("first_guidance", first_guidance, "1 = no guidance")):
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)
                                  or not 0 <= value < float("inf")):
            raise ValueError(f"{name}={value!r}: use None (the model's own) or a finite number >= 0 ({meaning})")
    if reproject is not None and not isinstance(reproject, bool):
        raise ValueError(f"reproject={reproject!r}: use True or False (or None: the model's own setting)")


def check_flag(value, name: str) -> bool:
    """A Python or numpy bool (a string such as "no" would be truthy: refused)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}: pass a bool")
    return bool(value)


def check_fork(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"fork needs an integer n >= 1 copies, got {n!r}: pass how many copies you want")
    return int(n)
