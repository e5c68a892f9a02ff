"""Dynamics: cached decode equals teacher-forced forward, causality, fixed-cost cache, text, flow head, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from worldsim.dynamics import (
    DynamicsConfig, DynamicsModel, encode_prompts, from_tokens, integrate, sample, state_loss,
    states_by_colour, teacher_forced_loss, to_tokens,
)
from worldsim.dynamics.layers import count_params

TINY = DynamicsConfig.tiny()
B, T = 2, 2 * TINY.window + 2  # longer than the window: the ring wraps twice
LR, STEPS = 3e-3, 100  # tiny training: ~20 ms a step after compiling
PROMPTS = ["two red balls bounce", "a blue ball falls"]


def randomised(cfg: DynamicsConfig, seed: int = 1) -> DynamicsModel:
    m = DynamicsModel(cfg, rngs=nnx.Rngs(seed))
    # Perturb every parameter so zero-initialised layers (flow modulation, output) take part in the checks.
    rng = np.random.default_rng(seed)
    state = nnx.state(m, nnx.Param)
    nnx.update(m, jax.tree.map(lambda p: p + 0.1 * rng.normal(size=p.shape).astype(np.float32), state))
    return m


# Jitted entry points: eager JAX compiles every op on first use, which is what made this file slow.
forward = nnx.jit(lambda m, z, a: m(z, a))
forward_text = nnx.jit(lambda m, z, a, ids, mask: m(z, a, text=(ids, mask)))
forward_emb = nnx.jit(lambda m, z, a, e: m(z, a, text_emb=e))
prefill = nnx.jit(lambda m, c, ids, mask: m.prefill(c, text=(ids, mask)))
TRACES = {"step": 0}


@nnx.jit
def step(m, c, zt, at):
    TRACES["step"] += 1  # a Python side effect: runs only when jit traces
    return m.step(c, zt, at)


heads = nnx.jit(lambda m, h, key: (m.read_state(h), m.sample_frame(h, key)))
prefill_none = nnx.jit(lambda m, c: m.prefill(c))
TEXT = encode_prompts(PROMPTS, TINY.max_text_bytes)


@pytest.fixture(scope="module")
def model():
    return randomised(TINY)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    z = np.tanh(rng.normal(size=(B, T) + TINY.latent_shape)).astype(np.float32)
    a = rng.normal(size=(B, T, TINY.action_dim)).astype(np.float32)
    return jnp.asarray(z), jnp.asarray(a)


def test_config_presets_validation_and_round_trip():
    small = DynamicsConfig.small()
    assert small.tokens_per_frame == 16 and small.token_dim == 64
    assert TINY.tokens_per_frame == 4 and TINY.token_dim == 32
    assert DynamicsConfig.from_dict(small.to_dict()) == small
    # configs written with the object anchor's motion head (since removed) still read: its settings are dropped
    old = {**small.to_dict(), "motion_head": True, "motion_layout": True, "motion_gate": True}
    assert DynamicsConfig.from_dict(old) == small
    assert not any(k.startswith("motion_") for k in small.to_dict())
    with pytest.raises(ValueError, match="divisible by group"):
        DynamicsConfig(grid=8, group=3)
    with pytest.raises(ValueError, match="even"):
        DynamicsConfig(d_model=36, num_heads=4)
    with pytest.raises(ValueError, match="window"):
        DynamicsConfig(window=0)
    assert 2_000_000 <= count_params(nnx.eval_shape(lambda: DynamicsModel(small, rngs=nnx.Rngs(0)))) <= 4_000_000


def test_tokens_round_trip_and_layout():
    z = jax.random.normal(jax.random.key(1), (2, 3, 8, 8, 16))
    tok = to_tokens(z, 2)
    assert tok.shape == (2, 3, 16, 64)
    np.testing.assert_array_equal(from_tokens(tok, 2), z)
    # token 1 = cells (rows 0-1, cols 2-3), stored cell by cell
    np.testing.assert_array_equal(tok[0, 0, 1].reshape(2, 2, 16), z[0, 0, 0:2, 2:4])
    np.testing.assert_array_equal(to_tokens(from_tokens(tok, 2), 2), tok)


def test_forward_shapes_and_dtypes(model, data):
    z, a = data
    h = forward_text(model, z, a, *TEXT)
    assert h.shape == (B, T + 1, TINY.tokens_per_frame, TINY.d_model) and h.dtype == jnp.float32
    assert bool(jnp.isfinite(h).all())
    st, frames = heads(model, h, jax.random.key(0))
    assert st.present_logit.shape == (B, T + 1, 6) and st.pos.shape == st.vel.shape == (B, T + 1, 6, 2)
    assert frames.shape == (B, T + 1) + TINY.latent_shape and frames.dtype == jnp.float32


@pytest.fixture(scope="module")
def delta_model():
    return randomised(TINY.replace(frame_delta=True), seed=5)


@pytest.mark.parametrize("cond", ["text", "none", "delta"])
def test_cached_steps_equal_teacher_forced_forward(model, delta_model, data, cond):
    z, a = data
    if cond == "delta":  # the cache carries the last frame, whose change the next step's input reads
        model = delta_model
    if cond == "text":
        full = forward_text(model, z, a, *TEXT)  # (B, T+1, N, d)
        h, cache = prefill(model, model.init_cache(B), *TEXT)
    else:
        full = forward(model, z, a)
        h, cache = prefill_none(model, model.init_cache(B))
    np.testing.assert_allclose(h, full[:, 0], atol=1e-4)
    for t in range(T):  # past the window: the ring overwrites old frames exactly as the forward's mask drops them
        h, cache = step(model, cache, z[:, t], a[:, t])
        np.testing.assert_allclose(h, full[:, t + 1], atol=1e-4, err_msg=f"frame {t}")


def test_no_actions_equals_zero_actions(model, data):
    z, _ = data
    ref = forward(model, z, jnp.zeros((B, T, 2)))
    np.testing.assert_array_equal(forward(model, z, None), ref)
    np.testing.assert_array_equal(forward(model, z, jnp.zeros((B, T, 0))), ref)  # passive worlds' (B, T, 0) actions


@pytest.mark.parametrize("which", ["plain", "delta"])
def test_causal_in_time(model, delta_model, data, which):
    z, a = data
    model = delta_model if which == "delta" else model
    full = forward(model, z, a)
    for j in (0, 3, T - 2):  # latent frame j sits at position j + 1
        hz = forward(model, z.at[:, j].add(1.0), a)
        ha = forward(model, z, a.at[:, j].add(1.0))
        for h in (hz, ha):
            np.testing.assert_array_equal(h[:, : j + 1], full[:, : j + 1])
            assert not np.allclose(h[:, j + 1], full[:, j + 1])


def test_hidden_depends_on_frame_offsets_not_the_step_number(data):
    """With one layer a frame sees only the prompt and the last W frames; RoPE on frame offsets plus a position-free
    sink make its hidden the same whether that window sits at the start of a rollout or later."""
    z, a = data
    one = randomised(TINY.replace(num_layers=1), seed=2)
    w = TINY.window
    late = T - w  # the last W frames start here
    h_late = forward(one, z, a)[:, -1]
    h_early = forward(one, z[:, late:], a[:, late:])[:, -1]
    np.testing.assert_allclose(h_early, h_late, atol=1e-5)
    h_mid = forward(one, z[:, late - 2 :], a[:, late - 2 :])[:, -1]  # two extra frames, both outside the window
    np.testing.assert_allclose(h_mid, h_late, atol=1e-5)
    inside = forward(one, z.at[:, T - w].add(1.0), a)[:, -1]  # the oldest frame still in the window does count
    assert not np.allclose(inside, h_late, atol=1e-3)


def test_cache_has_fixed_shapes_and_step_never_retraces(model, data):
    z, a = data
    _, cache = prefill_none(model, model.init_cache(B))
    shapes = jax.tree.map(lambda x: (x.shape, x.dtype), cache)
    w = TINY.window
    assert cache.k.shape == (TINY.num_layers, B, TINY.tokens_per_frame, 1 + w, TINY.num_heads, TINY.head_dim)
    for t in range(T):
        _, cache = step(model, cache, z[:, t], a[:, t])
        if t == 0:
            traces = TRACES["step"]  # at most one trace per model structure (plain, frame_delta) in this file
        assert jax.tree.map(lambda x: (x.shape, x.dtype), cache) == shapes
        assert int(cache.t) == t + 1 and int(cache.valid.sum()) == 1 + min(t + 1, w)
        np.testing.assert_array_equal(cache.last, z[:, t])
    assert TRACES["step"] == traces <= 2


def test_encode_prompts_refuses_bad_prompts():
    ids, mask = encode_prompts(["héllo", b"abc"], 16)
    assert ids.shape == mask.shape == (2, 16) and ids.dtype == np.int32
    assert mask.sum(1).tolist() == [6, 3]  # é is two bytes
    for bad, msg in [
        ([""], "empty"), (["   "], "empty"), (["x" * 17], "17 bytes.*at most 16.*max_text_bytes"),
        ([b"\xff\xfe"], "not valid UTF-8"), ([3], "not a str"), ([None], "not a str"), ("one prompt", r"\[prompt\]"),
        ([], "empty"), (5, "list of str"),
    ]:
        with pytest.raises(ValueError, match=msg):
            encode_prompts(bad, 16)


def test_text_embeddings(model, data):
    z, a = data
    emb = model.encode_text(PROMPTS)
    assert emb.shape == (B, TINY.d_model)
    assert not np.allclose(emb[0], emb[1])
    # precomputed embeddings and jittable (bytes, mask) arrays give the same hiddens as the prompts
    ref = forward_text(model, z, a, *TEXT)
    np.testing.assert_allclose(forward_emb(model, z, a, emb), ref, atol=1e-5)
    assert not np.allclose(forward(model, z, a), ref)  # text matters
    # an all-False mask row means "no text" (text dropout for guidance)
    ids, mask = TEXT
    mask = mask.copy()
    mask[1] = False
    np.testing.assert_allclose(model.encode_text((ids, mask))[1], model.no_text[...], atol=1e-6)
    with pytest.raises(ValueError, match="not both"):
        model(z, a, text=PROMPTS, text_emb=emb)
    with pytest.raises(ValueError, match="text_emb must be"):
        model(z, a, text_emb=emb[:, :3])
    with pytest.raises(ValueError, match="3 prompts for a batch of 2"):
        model(z, a, text=PROMPTS + ["x"])


def test_bad_inputs_have_clear_errors(model, data):
    z, a = data
    with pytest.raises(ValueError, match="latents must be"):
        model(z[..., :3], a)
    with pytest.raises(ValueError, match="latents must be"):
        model(z[0], a)
    with pytest.raises(ValueError, match="actions must have shape"):
        model(z, a[..., :1])
    with pytest.raises(ValueError, match="actions must have shape"):
        model(z, a[:, :-1])
    with pytest.raises(ValueError, match="NaN or inf"):
        model(z, a.at[0, 1, 0].set(jnp.nan))
    cache = model.init_cache(B)
    with pytest.raises(ValueError, match="cache batch"):
        model.step(cache, z[:1, 0])
    with pytest.raises(ValueError, match="actions must have shape"):
        model.step(cache, z[:, 0], a[:, 0, :1])


def test_flow_sampling_shapes_and_determinism(model, data):
    z, a = data
    h = forward(model, z, a)[:, :2]  # (B, 2, N, d)
    s1 = sample(model.flow, h, jax.random.key(3), steps=3)
    assert s1.shape == (B, 2, TINY.tokens_per_frame, TINY.token_dim) and s1.dtype == jnp.float32
    np.testing.assert_array_equal(sample(model.flow, h, jax.random.key(3), steps=3), s1)
    assert not np.allclose(sample(model.flow, h, jax.random.key(4), steps=3), s1)
    cold = sample(model, h, jax.random.key(4), steps=3, temperature=0.0)  # also accepts the DynamicsModel
    np.testing.assert_allclose(cold, integrate(model.flow, h, jnp.zeros_like(s1), steps=3), atol=1e-6)


def test_state_loss_masks_absent_slots():
    from worldsim.dynamics.state import StatePred

    pos = jnp.array([[[0.2, 0.3], [0.5, 0.5]]])  # (1, K=2, 2)
    vel = jnp.array([[[1.0, 0.0], [0.0, -1.0]]])
    colour = jnp.array([[4, 1]])
    present = jnp.array([[True, False]])
    p, v, pr = states_by_colour(pos, vel, colour, present)
    assert p.shape == (1, 6, 2) and pr.tolist() == [[False, False, False, False, True, False]]
    np.testing.assert_array_equal(p[0, 4], pos[0, 0])
    perfect = StatePred(jnp.where(pr, 20.0, -20.0), p + 5.0 * ~pr[..., None], v)  # wrong only where absent
    loss, parts = state_loss(perfect, p, v, pr)
    assert float(parts["state_pos_mse"]) == 0.0 and float(loss) < 1e-6
    with pytest.raises(ValueError, match="no state head"):
        DynamicsModel(TINY.replace(state_head=False), rngs=nnx.Rngs(0)).read_state(jnp.zeros((1, 4, 32)))


def test_tiny_training_lowers_flow_and_state_loss(data):
    z, a = data
    z, a = z[:, :6], a[:, :6]
    model = DynamicsModel(TINY, rngs=nnx.Rngs(0))
    opt = nnx.Optimizer(model, optax.adam(LR), wrt=nnx.Param)
    states = (
        jnp.tile(jnp.linspace(0, 1, 6)[None, :, None, None], (B, 1, 6, 2)),
        jnp.ones((B, 6, 6, 2)),
        jnp.tile(jnp.arange(6)[None, None] < 3, (B, 6, 1)),
    )

    def loss_fn(m, k):
        return teacher_forced_loss(m, z, k, actions=a, states=states)

    @nnx.jit
    def train_step(m, opt, k):
        (_, metrics), grads = nnx.value_and_grad(loss_fn, has_aux=True)(m, k)
        opt.update(m, grads)
        return metrics

    # The same noise draw before and after, so the comparison is not at the mercy of the sampled noise levels.
    evaluate = nnx.jit(lambda m: loss_fn(m, jax.random.key(99))[1])
    first = evaluate(model)
    history = [train_step(model, opt, jax.random.fold_in(jax.random.key(0), i)) for i in range(STEPS)]
    last = evaluate(model)
    assert all(np.isfinite(float(m["loss"])) for m in history)
    assert float(last["flow_loss"]) < 0.7 * float(first["flow_loss"]), (first, last)
    assert float(last["state_loss"]) < 0.5 * float(first["state_loss"]), (first, last)
