"""The pure simulator core on a tiny random model: determinism, chunked = one rollout, jit = eager, scan = step
loop, vmap = loop, cached steps = teacher-forced forward, fork, absorbing terminal states, shapes, 10,000 steps."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from simtools import always, frames, leaves_equal, max_diff, tiny_model

from worldsim.dynamics import encode_prompts
from worldsim.sim import Readout, SimState, StepOutput, compiled, core

KEY = jax.random.key(7)
T = 8  # steps per test rollout: more than the window (3), so the KV ring wraps
TOL = 1e-5  # same computation, differently fused (jit vs eager, scan vs loop, vmap vs loop)


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.fixture(scope="module")
def text(model):
    ids, mask = encode_prompts(["a red ball rolls to the left"], model.max_text_bytes)
    return ids[0], mask[0]


@pytest.fixture(scope="module")
def actions():
    return jnp.asarray(np.random.default_rng(1).uniform(-1, 1, (T, 2)), jnp.float32)


@pytest.fixture(scope="module")
def start(model, text):
    return compiled.init(model, jax.random.key(1), text, None, None)


def roll(model, state, acts, key=KEY, decode=False):
    return compiled.rollout(model, state, acts, key, decode=decode)


def test_same_key_is_bit_identical_other_keys_differ(model, text, start, actions):
    assert leaves_equal(start, compiled.init(model, jax.random.key(1), text, None, None))
    other = compiled.init(model, jax.random.key(2), text, None, None)
    assert not np.allclose(other.latent, start.latent, atol=1e-3)
    a, b = roll(model, start, actions), roll(model, start, actions)
    assert leaves_equal(a, b)
    _, c = roll(model, start, actions, jax.random.key(8))
    per_step = np.abs(np.asarray(c.latent) - np.asarray(a[1].latent)).reshape(T, -1).max(1)
    assert (per_step > 1e-3).all()  # every step draws its own noise


def test_chunked_rollout_equals_one_rollout(model, start, actions):
    whole = roll(model, start, actions)
    s1, o1 = roll(model, start, actions[: T // 2])
    s2, o2 = roll(model, s1, actions[T // 2 :])
    assert leaves_equal(whole[0], s2)
    assert leaves_equal(whole[1], jax.tree.map(lambda x, y: jnp.concatenate([x, y]), o1, o2))


def test_jit_equals_eager(model, start, actions):
    eager = core.step(model, start, actions[0], KEY, decode=False)
    jitted = compiled.step(model, start, actions[0], KEY, decode=False)
    assert max_diff(eager, jitted) < TOL
    assert int(eager[0].t) == int(jitted[0].t) == 1


def test_scan_rollout_equals_step_loop_and_shapes(model, start, actions):
    """With decoding on: the frames path too."""
    state, outs = roll(model, start, actions, decode=True)
    s, loop = start, []
    for t in range(T):
        s, o = compiled.step(model, s, actions[t], KEY)
        loop.append(o)
    loop = jax.tree.map(lambda *xs: jnp.stack(xs), *loop)
    assert max_diff((state, outs), (s, loop)) < TOL
    assert np.abs(outs.frames.astype(int) - loop.frames.astype(int)).max() <= 1  # uint8 rounding of equal floats
    # shapes and dtypes: the state keeps its shapes; outputs stack along T
    assert jax.tree.map(lambda x: (x.shape, x.dtype), state) == jax.tree.map(lambda x: (x.shape, x.dtype), start)
    assert isinstance(outs, StepOutput) and isinstance(outs.readout, Readout) and isinstance(state, SimState)
    assert outs.frames.shape == (T, 1, 32, 32, 3) and outs.frames.dtype == jnp.uint8
    assert outs.frame.shape == (T, 32, 32, 3)
    assert outs.latent.shape == (T, 4, 4, 8) and outs.latent.dtype == jnp.float32
    assert outs.readout.pos.shape == outs.readout.vel.shape == (T, 6, 2)
    assert outs.readout.present.shape == (T, 6) and ((outs.readout.present >= 0) & (outs.readout.present <= 1)).all()
    assert outs.t.tolist() == list(range(1, T + 1)) and outs.valid.all() and not outs.done.any()
    assert np.array_equal(compiled.render(model, state), outs.frame[-1])


def test_vmap_equals_per_sample_loop(model, text, start, actions):
    kids = core.fork(start, 3)
    acts = actions[:3]
    batched = compiled.step(model, kids, acts, KEY, rank=1, decode=False)
    for i in range(3):
        one = compiled.step(model, jax.tree.map(lambda x: x[i], kids), acts[i], KEY, decode=False)
        assert max_diff(jax.tree.map(lambda x: x[i], batched), one) < TOL
    keys = jax.random.split(jax.random.key(3), 3)
    texts = tuple(np.broadcast_to(x, (3,) + x.shape) for x in text)
    inits = compiled.init(model, keys, texts, None, None, rank=1)
    for i in range(3):
        assert max_diff(jax.tree.map(lambda x: x[i], inits), compiled.init(model, keys[i], text, None, None)) < TOL


@pytest.fixture(scope="module")
def from_frames(model, text):
    """A start from 3 frames with 2 actions between them."""
    pre = jnp.asarray(np.random.default_rng(2).uniform(-1, 1, (2, 2)), jnp.float32)
    return pre, compiled.init(model, KEY, text, frames(3), pre)


def test_cached_steps_equal_teacher_forced_forward(model, text, from_frames, actions):
    """Roll T steps with the cache from 3 initial frames; then recompute everything with DynamicsModel.forward on
    the same latents: the hidden each frame was sampled from, and the zero-action hidden each readout (and the
    final state's hidden) was read from."""
    k, steps, acts = 3, T, actions
    pre, s0 = from_frames
    z_pre = jax.jit(model.tokenizer.encode)(frames(k)[None])[0]
    assert max_diff(s0.latent, z_pre[-1]) < TOL
    state, outs = roll(model, s0, acts)
    z = jnp.concatenate([z_pre, outs.latent])  # (k + T, g, g, D)
    a = jnp.concatenate([pre, acts, jnp.zeros((1, 2))])  # a_j acts after z_j
    # Row t zeroes a_{k+t}, the action after frame k + t: position k + t + 1 then is the readout's zero-action hidden.
    rows = jnp.stack([a.at[k + t].set(0.0) for t in range(steps)])
    t_idx = jnp.arange(steps)

    @jax.jit
    def recompute(zz, aa):
        dyn = model.dynamics
        h = dyn.forward(zz, aa, text=(text[0][None], text[1][None]))  # (steps, k + steps + 1, N, d)
        keys = jax.vmap(lambda t: core.step_key(KEY, t, jnp.uint32(0)))(t_idx)
        sampled = jax.vmap(lambda hh, kk: dyn.sample_frame(hh[None], kk)[0])(h[t_idx, k + t_idx], keys)
        return h, sampled, dyn.read_state(h[t_idx, k + t_idx + 1])

    h, sampled, read = recompute(jnp.broadcast_to(z, (steps,) + z.shape), rows)
    assert max_diff(sampled, outs.latent) < 1e-4  # each frame came from the hidden the forward computes
    assert max_diff((jnp.clip(read.pos, *core.BOX), read.vel), (outs.readout.pos, outs.readout.vel)) < 1e-4
    assert max_diff(state.hidden, h[steps - 1, k + steps]) < 1e-4


def test_readout_positions_lie_in_the_box(model, start):
    """The state head's positions are an unbounded linear output (this random head's leave the box); the readout
    clips them to the box [0, 1]^2 and leaves those inside as they are."""
    hidden = jnp.asarray(np.random.default_rng(0).normal(size=start.hidden.shape), jnp.float32)
    raw = np.asarray(model.dynamics.read_state(hidden).pos)
    pos = np.asarray(core.readout(model, start._replace(hidden=hidden)).pos)
    inside = (raw >= 0) & (raw <= 1)
    assert not inside.all() and inside.any()
    assert ((pos >= 0) & (pos <= 1)).all() and np.array_equal(pos[inside], raw[inside])


def test_fork_is_independent_and_replayable(model, start, actions):
    before = jax.tree.map(np.array, start)
    kids = core.fork(start, 3)
    assert kids.t.shape == (3,) and len(set(np.asarray(kids.branch).tolist())) == 3
    acts = jnp.broadcast_to(actions[0], (3, 2))
    s1, o1 = compiled.step(model, kids, acts, KEY, rank=1, decode=False)
    lat = np.asarray(o1.latent).reshape(3, -1)
    assert all(np.abs(lat[i] - lat[j]).max() > 1e-3 for i in range(3) for j in range(i))  # branches differ
    assert leaves_equal(start, before)  # the parent is untouched (no donation) ...
    parent_step = compiled.step(model, start, actions[0], KEY, decode=False)  # ... and still usable
    assert int(parent_step[0].t) == 1
    replay = compiled.step(model, core.fork(start, 3), acts, KEY, rank=1, decode=False)
    assert leaves_equal((s1, o1), replay)
    nested = core.fork(kids, 2)  # forking a batch adds a leading axis, with fresh lineages
    assert nested.t.shape == (2, 3) and len(set(np.asarray(nested.branch).ravel().tolist())) == 6
    with pytest.raises(ValueError, match="n >= 1"):
        core.fork(start, 0)


def test_terminal_state_is_absorbing(model, start, actions):
    done, out = compiled.step(model, start, actions[0], KEY, decode=False, terminal_fn=always)
    assert bool(done.done) and bool(out.done) and bool(out.valid) and int(done.t) == 1
    again, out2 = compiled.step(model, done, actions[1], KEY, decode=False)
    assert leaves_equal(again, done)
    assert not bool(out2.valid) and bool(out2.done) and int(out2.t) == 1
    assert np.array_equal(out2.latent, done.latent)
    _, outs = roll(model, done, actions)
    assert not outs.valid.any() and outs.done.all() and (outs.t == 1).all()


def test_conditioning_text_and_frames(model, start, from_frames):
    plain = compiled.init(model, jax.random.key(1), None, None, None)
    assert np.allclose(plain.text_emb, model.dynamics.no_text[...])
    assert not np.allclose(plain.text_emb, start.text_emb) and not np.allclose(plain.latent, start.latent)
    _, s0 = from_frames
    assert int(start.cache.t) == 0 and int(s0.cache.t) == 2  # the first k - 1 frames are in the cache
    assert np.allclose(s0.text_emb, start.text_emb)  # same prompt, same conditioning


def test_ten_thousand_steps_keep_shapes_and_stay_finite(model, start):
    n = 10_000
    state, outs = roll(model, start, jnp.zeros((n, 2)))
    shapes = lambda s: jax.tree.map(lambda x: (x.shape, x.dtype), s)  # noqa: E731
    assert shapes(state) == shapes(start)  # fixed-size cache: memory does not grow with t
    assert int(state.t) == n and int(state.cache.t) == n
    assert np.isfinite(outs.latent).all() and np.isfinite(state.hidden).all()
    assert all(np.isfinite(x).all() for x in jax.tree.leaves(outs.readout))


def test_reprojection_puts_each_new_latent_back_on_the_tokenizer(model, start, actions):
    """reproject=True: every new latent is what the tokenizer makes of the decoded frame after the previous one;
    the rollout stays deterministic and differs from the plain one."""
    plain_end, plain = compiled.rollout(model, start, actions[:3], KEY, decode=False)
    s1, o1 = compiled.rollout(model, start, actions[:3], KEY, decode=True, reproject=True)
    s2, o2 = compiled.rollout(model, start, actions[:3], KEY, decode=True, reproject=True)
    assert leaves_equal(s1, s2) and max_diff(o1.latent, plain.latent) > 1e-3
    tok = model.tokenizer  # step 0 samples the same z as the plain rollout, then re-encodes it after the start
    pair = jnp.stack([tok.decode(start.latent[None, None])[0, 0], tok.decode(plain.latent[:1, None])[0, 0]])
    assert max_diff(tok.encode(pair[None])[0, 1], o1.latent[0]) < 1e-5


def test_model_sampling_defaults_reach_the_simulator(tmp_path):
    import worldsim as ws
    from worldsim.sim import Sampling, export, load

    m = tiny_model()
    bundle = export(ws.WorldModel(m.tokenizer, m.dynamics, sampling=Sampling(0.25, True, 0.0)), tmp_path / "m")
    loaded = load(bundle)
    assert loaded.sampling == Sampling(0.25, True, 0.0)
    sim = ws.Simulator(loaded)
    assert sim.temperature == 0.25 and sim.reproject is True and sim.first_temperature == 0.0
    assert ws.Simulator(loaded, temperature=1.0, reproject=False).reproject is False
    # The first frame from a prompt alone is drawn at first_temperature: 0 is the mean flow (the key does not
    # matter); 1 samples (it does). Next frames keep their own temperature.
    first = lambda s, k: np.asarray(s.render(s.reset(jax.random.key(k), prompt="a red ball")))  # noqa: E731
    assert np.array_equal(first(sim, 0), first(sim, 1))
    hot = ws.Simulator(loaded, first_temperature=1.0)
    assert not np.array_equal(first(hot, 0), first(hot, 1)) and hot.temperature == 0.25
    with pytest.raises(ValueError, match="first_temperature"):
        ws.Simulator(loaded, first_temperature=-1.0)


def test_actions_are_clipped_to_the_worlds_range(model, start, actions):
    """An action beyond [-1, 1] steps exactly like its clipped value (a push of 1e30 must not turn the state to
    NaN, nor anything past 1 give another result than the largest push the model was trained on)."""
    big = actions * jnp.asarray([1e30, 3.0]) + jnp.sign(actions) * 2.0
    assert leaves_equal(roll(model, start, big), roll(model, start, jnp.clip(big, -1.0, 1.0)))
    assert np.isfinite(np.asarray(roll(model, start, big)[1].latent)).all()


# ----- the default sampling path: the raw latent model, nothing held or redrawn -----

LAYOUT = dict(layout_dim=16, layout_heads=2, layout_text_layers=1, layout_render_dim=16, layout_render_layers=1)


@pytest.fixture(scope="module")
def shipped_style():
    """A tiny model built like the shipped one (state head, layout prior for text-only first frames), sampled with
    the shipped model's recorded settings (worldsim/assets/dynamics/config.json)."""
    import json

    import worldsim as ws
    from worldsim.dynamics import DynamicsConfig
    from worldsim.dynamics.load import DEFAULT
    from worldsim.sim import Sampling

    sampling = Sampling.from_dict(json.loads((DEFAULT / "config.json").read_text()).get("sampling"))
    m = ws.WorldModel.random(dynamics_config=DynamicsConfig.tiny().replace(**LAYOUT))
    assert m.has_state_head and m.dynamics.layout is not None
    return ws.WorldModel(m.tokenizer, m.dynamics, sampling=sampling)


@pytest.mark.parametrize("reproject", [None, False])  # None: the shipped setting (it reprojects)
def test_a_step_keeps_the_flow_heads_sample(shipped_style, reproject):
    """The new latent frame of a Simulator step is what the flow head samples from the hidden state the cache gives
    for the current frame and action, at the step's key and temperature, then (where the settings say so) decoded
    and encoded again by the tokenizer: nothing else alters it."""
    import worldsim as ws

    model = shipped_style
    sim = ws.Simulator(model, reproject=reproject)
    temperature, reprojects = model.sampling.temperature, sim.reproject
    assert reprojects == (model.sampling.reproject if reproject is None else reproject)

    @jax.jit
    def expected(m, state, a, key):
        dyn = m.dynamics
        h, _ = dyn.step(state.cache, state.latent[None], a[None])
        z = dyn.sample_frame(h, core.step_key(key, state.t, state.branch), None, temperature)
        return (core._reproject(m, state.latent, z) if reprojects else z)[0]

    state = sim.reset(jax.random.key(3), prompt="a red ball at the top left and a blue ball at the bottom")
    for t, a in enumerate(np.random.default_rng(5).uniform(-1, 1, (4, 2)).astype(np.float32)):
        key = jax.random.key(10 + t)
        new, out = sim.step(state, a, key)
        assert max_diff(out.latent, expected(model, state, jnp.asarray(a), key)) < 1e-5
        assert max_diff(new.latent, out.latent) == 0.0
        state = new


def test_forks_of_a_text_only_start_differ(shipped_style):
    """Futures forked from one state, under the same actions, are different samples: with one step key (their
    lineages differ) and with different keys."""
    import worldsim as ws

    sim = ws.Simulator(shipped_style)
    state = sim.reset(jax.random.key(4), prompt="a red ball at the top left")
    acts = np.zeros((2, 3, 2), np.float32)
    _, outs = sim.rollout(sim.fork(state, 2), acts, jax.random.key(1))
    f = np.asarray(outs.frame, np.int32)  # (2, 3, H, W, 3)
    assert all(np.abs(f[0, t] - f[1, t]).max() > 0 for t in range(3))
    _, a = sim.rollout(state, acts[0], jax.random.key(1))
    _, b = sim.rollout(state, acts[0], jax.random.key(2))
    assert all(not np.array_equal(a.frame[t], b.frame[t]) for t in range(3))
