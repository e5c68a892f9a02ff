"""Bad input at the Simulator boundary: every mistake is a ValueError/TypeError that names the fix, raised before
any jitted code runs (so never an XLA error). A table of named cases, plus hypothesis-generated ones."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simtools import frames, tiny_model

import worldsim as ws

KEY = jax.random.key(0)
FIX = re.compile(r"\b(pass|use|make|call|resize|shorten|divide|start|write|add|train|load)\b", re.I)
SETTINGS = settings(max_examples=25, deadline=None)


@pytest.fixture(scope="module")
def sim():
    return ws.Simulator(tiny_model())


@pytest.fixture(scope="module")
def state(sim):
    """A real state: the shell checks its shapes and reads its done flag."""
    return sim.reset(KEY)


def _bad(fn, exc=(ValueError, TypeError), match=None):
    with pytest.raises(exc) as info:
        fn()
    msg = str(info.value)
    assert type(info.value) in (ValueError, TypeError, FileNotFoundError), type(info.value)
    assert FIX.search(msg), f"the message does not say what to do: {msg}"
    if match:
        assert re.search(match, msg, re.I | re.S), msg
    return msg


CASES = {
    # step actions
    "action too long": (lambda s, x: s.step(x, np.zeros(3), KEY), r"shape \(2,\)"),
    "action scalar": (lambda s, x: s.step(x, np.float32(1.0), KEY), r"shape \(2,\)"),
    "action batched for one episode": (lambda s, x: s.step(x, np.zeros((1, 2)), KEY), r"shape \(2,\)"),
    "action NaN": (lambda s, x: s.step(x, np.array([np.nan, 0.0]), KEY), "NaN"),
    "action inf": (lambda s, x: s.step(x, np.array([np.inf, 0.0]), KEY), "inf"),
    "action strings": (lambda s, x: s.step(x, np.array(["a", "b"]), KEY), "float array"),
    "action bool": (lambda s, x: s.step(x, np.array([True, False]), KEY), "float array"),
    "action complex": (lambda s, x: s.step(x, np.array([1j, 0j]), KEY), "float array"),
    "action None": (lambda s, x: s.step(x, None, KEY), "numpy or jax array"),
    "action dict": (lambda s, x: s.step(x, {"x": 1}, KEY), "numpy or jax array"),
    "action ragged": (lambda s, x: s.step(x, [[1.0], [1.0, 2.0]], KEY), "ragged"),
    # keys
    "key int": (lambda s, x: s.step(x, np.zeros(2), 0), "PRNG key"),
    "key batch": (lambda s, x: s.step(x, np.zeros(2), jax.random.split(KEY, 2)), "PRNG key"),
    "key float pair": (lambda s, x: s.step(x, np.zeros(2), np.zeros(2, np.float32)), "PRNG key"),
    "reset key None": (lambda s, x: s.reset(None), "PRNG key"),
    # prompts
    "prompt empty": (lambda s, x: s.reset(KEY, prompt=""), "empty"),
    "prompt blank": (lambda s, x: s.reset(KEY, prompt="   \n"), "empty"),
    "prompt too long": (lambda s, x: s.reset(KEY, prompt="x" * 65), "shorten"),
    "prompt multibyte too long": (lambda s, x: s.reset(KEY, prompt="é" * 33), "66 bytes"),
    "prompt invalid utf-8": (lambda s, x: s.reset(KEY, prompt=b"\xff\xfe ball"), "UTF-8"),
    "prompt with a NUL byte": (lambda s, x: s.reset(KEY, prompt="a red\x00 ball"), "NUL"),
    "prompt int": (lambda s, x: s.reset(KEY, prompt=5), "str"),
    "prompt list unbatched": (lambda s, x: s.reset(KEY, prompt=["a", "b"]), "batch_size"),
    "prompt list with non-str": (lambda s, x: ws.Simulator(tiny_model(), 2).reset(KEY, prompt=["a", 3]), "str"),
    "prompt count": (lambda s, x: ws.Simulator(tiny_model(), 2).reset(KEY, prompt=["a"]), "one per episode"),
    # initial frames
    "frames wrong size": (lambda s, x: s.reset(KEY, frames=frames(2, resolution=16)), "resize"),
    "frames four channels": (lambda s, x: s.reset(KEY, frames=np.zeros((2, 32, 32, 4), np.uint8)), "RGB"),
    "frames 2-D": (lambda s, x: s.reset(KEY, frames=np.zeros((32, 32), np.uint8)), "RGB"),
    "frames float above 1": (lambda s, x: s.reset(KEY, frames=np.full((1, 32, 32, 3), 2.0)), r"\[0, 1\]"),
    "frames float negative": (lambda s, x: s.reset(KEY, frames=np.full((1, 32, 32, 3), -0.5)), r"\[0, 1\]"),
    "frames NaN": (lambda s, x: s.reset(KEY, frames=np.full((1, 32, 32, 3), np.nan)), "NaN"),
    "frames int64": (lambda s, x: s.reset(KEY, frames=np.zeros((1, 32, 32, 3), np.int64)), "uint8"),
    "frames empty": (lambda s, x: s.reset(KEY, frames=np.zeros((0, 32, 32, 3), np.uint8)), "at least one"),
    "frames batch unbatched": (lambda s, x: s.reset(KEY, frames=np.zeros((2, 1, 32, 32, 3), np.uint8)), "RGB"),
    "frames batch count": (lambda s, x: ws.Simulator(tiny_model(), 2).reset(
        KEY, frames=np.zeros((3, 1, 32, 32, 3), np.uint8)), "episodes"),
    "frames a string": (lambda s, x: s.reset(KEY, frames="clip.mp4"), "numpy or jax array"),
    "frame actions without frames": (lambda s, x: s.reset(KEY, actions=np.zeros((1, 2))), "frames"),
    "frame actions wrong count": (lambda s, x: s.reset(KEY, frames=frames(3), actions=np.zeros((3, 2))),
                                  r"shape \(2, 2\)"),
    # states
    "state ended": (lambda s, x: s.step(x._replace(done=jnp.array(True)), np.zeros(2), KEY), "sim.reset"),
    "state a dict": (lambda s, x: s.step({"t": 0}, np.zeros(2), KEY), "SimState"),
    "state wrong shapes": (lambda s, x: s.step(x._replace(latent=jnp.zeros((3, 3, 3))), np.zeros(2), KEY),
                           "same model"),
    "state NaN latent": (lambda s, x: s.step(x._replace(latent=x.latent.at[0, 0, 0].set(jnp.nan)), np.zeros(2),
                                                KEY), "NaN or inf.*latent"),
    "state inf hidden": (lambda s, x: s.render(x._replace(hidden=x.hidden.at[0, 0].set(jnp.inf))), "hidden"),
    "fork a NaN state": (lambda s, x: s.fork(x._replace(text_emb=x.text_emb * jnp.nan), 2), "text_emb"),
    "render a tuple": (lambda s, x: s.render((1, 2)), "SimState"),
    "fork zero": (lambda s, x: s.fork(x, 0), "n >= 1"),
    "fork negative": (lambda s, x: ws.fork(x, -2), "n >= 1"),
    "fork float": (lambda s, x: s.fork(x, 2.5), "n >= 1"),
    "fork bool": (lambda s, x: s.fork(x, True), "n >= 1"),
    "fork None": (lambda s, x: ws.fork(None, 2), "SimState"),
    "decode a string": (lambda s, x: s.step(x, np.zeros(2), KEY, decode="no"), "True or False"),
    "rollout decode a number": (lambda s, x: s.rollout(x, np.zeros((2, 2)), KEY, decode=2), "True or False"),
    "prompt lone surrogate": (lambda s, x: s.reset(KEY, prompt="a red ball \ud83d"), "cannot encode"),
    # rollouts
    "rollout 1-D actions": (lambda s, x: s.rollout(x, np.zeros(2), KEY), r"T >= 1"),
    "rollout no steps": (lambda s, x: s.rollout(x, np.zeros((0, 2)), KEY), r"T >= 1"),
    "rollout NaN": (lambda s, x: s.rollout(x, np.full((4, 2), np.nan), KEY), "NaN"),
    "rollout wrong width": (lambda s, x: s.rollout(x, np.zeros((4, 5)), KEY), r"shape \(4, 2\)"),
    # construction and loading
    "simulator of a str": (lambda s, x: ws.Simulator("default"), "WorldModel"),
    "batch size zero": (lambda s, x: ws.Simulator(tiny_model(), 0), "batch_size"),
    "sampling steps zero": (lambda s, x: ws.Simulator(tiny_model(), steps=0), "steps"),
    "temperature negative": (lambda s, x: ws.Simulator(tiny_model(), temperature=-1.0), "temperature"),
    "temperature a string": (lambda s, x: ws.Simulator(tiny_model(), temperature="abc"), "temperature='abc'"),
    "steps a string": (lambda s, x: ws.Simulator(tiny_model(), steps="x"), "steps='x'"),
    "first_guidance a string": (lambda s, x: ws.Simulator(tiny_model(), first_guidance="1.5"), "first_guidance"),
    "exported sampling junk": (lambda s, x: ws.sim.Sampling.from_dict({"temperature": "abc"}),
                               "sampling.temperature='abc'"),
    "temperature NaN": (lambda s, x: ws.Simulator(tiny_model(), temperature=float("nan")), "temperature"),
    "load a number": (lambda s, x: ws.load(3), "directory path"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_names_the_fix(name, sim, state):
    fn, match = CASES[name]
    _bad(lambda: fn(sim, state), match=match)


def test_there_are_at_least_30_distinct_cases():
    assert len(CASES) >= 30


# ----- generated -----

shapes = st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple)


@SETTINGS
@given(shape=shapes)
def test_any_wrong_action_shape(sim, state, shape):
    if shape == (2,):
        shape = (3,)
    _bad(lambda: sim.step(state, np.zeros(shape, np.float32), KEY), ValueError, "shape")


@SETTINGS
@given(value=st.sampled_from([np.nan, np.inf, -np.inf]), where=st.integers(0, 1),
       dtype=st.sampled_from([np.float16, np.float32, np.float64]))
def test_any_non_finite_action(sim, state, value, where, dtype):
    a = np.zeros(2, dtype)
    a[where] = value
    _bad(lambda: sim.step(state, a, KEY), ValueError, "NaN or inf")


@SETTINGS
@given(dtype=st.sampled_from(["U3", "S2", "complex64", "bool", "object", "datetime64[s]"]))
def test_any_non_numeric_action(sim, state, dtype):
    a = np.zeros(2, dtype=dtype)
    _bad(lambda: sim.step(state, a, KEY), TypeError)


@SETTINGS
@given(text=st.text(min_size=1, max_size=40).filter(lambda t: t.strip()), extra=st.integers(1, 50))
def test_any_over_long_prompt(sim, text, extra):
    prompt = text * (64 // len(text.encode()) + 1) + "x" * extra
    _bad(lambda: sim.reset(KEY, prompt=prompt), ValueError, "shorten")


@SETTINGS
@given(raw=st.binary(min_size=1, max_size=60))
def test_invalid_utf8_bytes(sim, raw):
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        _bad(lambda: sim.reset(KEY, prompt=raw), ValueError, "UTF-8")


@SETTINGS
@given(side=st.sampled_from([8, 16, 31, 33, 64]), k=st.integers(1, 3), channels=st.sampled_from([1, 3, 4]))
def test_any_wrong_frame_size(sim, side, k, channels):
    _bad(lambda: sim.reset(KEY, frames=np.zeros((k, side, side, channels), np.uint8)), ValueError)


@SETTINGS
@given(lo=st.floats(-10, 10, allow_nan=False), span=st.floats(0, 10, allow_nan=False))
def test_float_frames_out_of_range(sim, lo, span):
    f = np.full((1, 32, 32, 3), lo, np.float32)
    f[0, 0, 0, 0] = lo + span
    if 0.0 <= f.min() and f.max() <= 1.0:
        return  # a valid range: nothing to refuse
    _bad(lambda: sim.reset(KEY, frames=f), ValueError, r"\[0, 1\]")
