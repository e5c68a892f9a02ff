"""First-frame prior: shapes, padding invariance, it learns to follow the prompt, the losses and the simulator use it,
old configs without one still load, and clear errors."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from worldsim.dynamics import DynamicsConfig, DynamicsModel, encode_prompts, teacher_forced_loss
from worldsim.dynamics.losses import first_frame_prior_loss

CFG = DynamicsConfig.tiny().replace(prior_dim=32, prior_layers=1, prior_heads=2, prior_text_dim=32,
                                    prior_text_layers=1)
PROMPTS = ["a red ball", "a blue ball at the top"]


def perturbed(cfg=CFG, seed: int = 1) -> DynamicsModel:
    m = DynamicsModel(cfg, rngs=nnx.Rngs(seed))
    rng = np.random.default_rng(seed)  # zero-initialised output layers would hide the prompt's effect
    nnx.update(m, jax.tree.map(lambda p: p + 0.1 * rng.normal(size=p.shape).astype(np.float32),
                               nnx.state(m, nnx.Param)))
    return m


sample_first = nnx.jit(lambda m, ids, mask, key: m.sample_first_frame(ids, mask, key))


def test_config_round_trip_and_old_configs_have_no_prior():
    assert DynamicsConfig.from_dict(CFG.to_dict()) == CFG
    old = {k: v for k, v in DynamicsConfig.tiny().to_dict().items() if not k.startswith("prior_")}
    assert DynamicsConfig.from_dict(old).prior_dim == 0
    assert DynamicsModel(DynamicsConfig.tiny(), rngs=nnx.Rngs(0)).prior is None
    with pytest.raises(ValueError, match="prior_text_dim"):
        CFG.replace(prior_text_dim=33)
    with pytest.raises(ValueError, match="prior_layers"):
        CFG.replace(prior_layers=0)
    with pytest.raises(ValueError, match="prior_scale"):
        CFG.replace(prior_scale=0.0)


def test_shapes_determinism_and_the_prompt_matters():
    m = perturbed()
    ids, mask = encode_prompts(PROMPTS, CFG.max_text_bytes)
    z = sample_first(m, ids, mask, jax.random.key(0))
    assert z.shape == (2,) + CFG.latent_shape and z.dtype == jnp.float32
    np.testing.assert_array_equal(z, sample_first(m, ids, mask, jax.random.key(0)))
    swapped = sample_first(m, ids[::-1], mask[::-1], jax.random.key(0))  # same noise, prompts swapped
    assert float(jnp.abs(swapped - z).max()) > 1e-3


def test_padding_is_exact():
    """Trimming or extending a prompt's padding (odd and even lengths) does not change the sample: training pads
    captions to their longest, sampling to max_text_bytes."""
    m = perturbed()
    ids, mask = encode_prompts(PROMPTS, CFG.max_text_bytes)
    full = m.sample_first_frame(ids, mask, jax.random.key(3))
    for length in (23, 24, 40):
        np.testing.assert_allclose(m.sample_first_frame(ids[:, :length], mask[:, :length], jax.random.key(3)), full,
                                   atol=1e-5)


def test_no_prior_is_a_clear_error():
    m = DynamicsModel(DynamicsConfig.tiny(), rngs=nnx.Rngs(0))
    ids, mask = encode_prompts(PROMPTS, m.config.max_text_bytes)
    with pytest.raises(ValueError, match="no first-frame prior"):
        m.sample_first_frame(ids, mask, jax.random.key(0))


def test_losses_train_it_and_clips_without_text_weigh_nothing():
    m = perturbed()
    z = jnp.asarray(np.random.default_rng(0).normal(size=(2, 3) + CFG.latent_shape), jnp.float32)
    ids, mask = encode_prompts(PROMPTS, CFG.max_text_bytes)
    loss, metrics = teacher_forced_loss(m, z, jax.random.key(0), text=(ids, mask))
    np.testing.assert_allclose(metrics["prior_loss"], first_frame_prior_loss(m, z, ids, mask, jax.random.key(0)))
    np.testing.assert_allclose(loss, metrics["flow_loss"] + metrics["prior_loss"], rtol=1e-6)
    assert "prior_loss" not in teacher_forced_loss(m, z, jax.random.key(0))[1]  # no text, nothing to learn from
    # the second clip loses its caption: its frame no longer counts, so changing it changes nothing
    no_text = mask.copy()
    no_text[1] = False
    other = z.at[1].set(0.0)
    np.testing.assert_allclose(first_frame_prior_loss(m, z, ids, no_text, jax.random.key(0)),
                               first_frame_prior_loss(m, other, ids, no_text, jax.random.key(0)))


def test_it_learns_which_frame_a_prompt_asks_for():
    """Two prompts, two target frames: after a short training each prompt's samples land near its own frame."""
    graphdef, params, rest = nnx.split(DynamicsModel(CFG, rngs=nnx.Rngs(0)), nnx.Param, ...)
    rng = np.random.default_rng(0)
    targets = jnp.asarray(np.sign(rng.normal(size=(2, 1) + CFG.latent_shape)), jnp.float32)
    ids, mask = encode_prompts(PROMPTS, CFG.max_text_bytes)
    tx = optax.adam(1e-2)

    @jax.jit
    def train(params):  # 300 steps in one compiled scan: a Python loop of small steps costs more than the math
        def step(carry, i):
            p, opt = carry
            loss = lambda p: first_frame_prior_loss(nnx.merge(graphdef, p, rest), targets, ids, mask,  # noqa: E731
                                                    jax.random.key(i))
            updates, opt = tx.update(jax.grad(loss)(p), opt, p)
            return (optax.apply_updates(p, updates), opt), None

        return jax.lax.scan(step, (params, tx.init(params)), jnp.arange(300))[0][0]

    m = nnx.merge(graphdef, train(params), rest)
    z = sample_first(m, np.repeat(ids, 8, 0), np.repeat(mask, 8, 0), jax.random.key(1)).reshape((2, 8, -1))
    t = targets.reshape((2, 1, -1))
    own, other = jnp.mean((z - t) ** 2, -1), jnp.mean((z - t[::-1]) ** 2, -1)
    assert bool(jnp.all(own < other)), (own, other)  # every sample is nearer the frame its prompt asks for
    assert bool(jnp.all(own.mean(1) < 0.35 * other.mean(1))), (own, other)


def test_the_simulator_draws_text_only_first_frames_from_the_prior():
    from worldsim.sim import WorldModel, compiled

    world = WorldModel.random(dynamics_config=CFG)
    dyn = world.dynamics
    ids, mask = encode_prompts(PROMPTS[:1], CFG.max_text_bytes)
    key = jax.random.key(5)
    state = compiled.init(world, key, (ids[0], mask[0]), None, None, 0.7)
    want = dyn.sample_first_frame(ids, mask, key, temperature=0.7)[0]
    np.testing.assert_allclose(state.latent, want, atol=1e-5)
    # a precomputed text_emb carries no bytes for the prior: the flow head draws the frame, as without a prior
    h, _ = dyn.prefill(dyn.init_cache(1), text=(ids, mask))
    flow = dyn.sample_frame(h, key, temperature=0.7)[0]
    from worldsim.sim import core

    by_emb = core.init(world, key, text_emb=dyn.encode_text((ids, mask))[0], temperature=0.7)
    np.testing.assert_allclose(by_emb.latent, flow, atol=1e-5)
    assert float(jnp.abs(flow - want).max()) > 1e-3


def test_the_trainers_objective_includes_the_prior():
    from worldsim.train.dynamics import batch_loss

    m = perturbed()
    z = jnp.asarray(np.random.default_rng(0).normal(size=(2, 3) + CFG.latent_shape), jnp.float32)
    ids, mask = encode_prompts(PROMPTS, CFG.max_text_bytes)
    batch = {"latents": z, "actions": jnp.zeros((2, 3, CFG.action_dim)), "text_ids": ids, "text_mask": mask}
    loss, metrics, _ = batch_loss(m, batch, jax.random.key(0), text_dropout=0.0, state_weight=0.0)
    want, parts = teacher_forced_loss(m, z, jax.random.key(0), actions=batch["actions"], text=(ids, mask))
    np.testing.assert_allclose(loss, want, rtol=1e-5)
    np.testing.assert_allclose(metrics["prior_loss"], parts["prior_loss"], rtol=1e-5)


def test_prior_scale_is_a_change_of_units():
    """prior_scale trains and samples latents * scale: the same network at scale s on z acts as scale 1 on s z."""
    m1 = perturbed()
    m2 = perturbed(CFG.replace(prior_scale=4.0))
    ids, mask = encode_prompts(PROMPTS, CFG.max_text_bytes)
    z = jnp.asarray(np.random.default_rng(0).normal(size=(2, 1) + CFG.latent_shape), jnp.float32)
    tok = m1.to_tokens(z[:, 0])
    np.testing.assert_allclose(m2.prior.loss(tok, ids, mask, jax.random.key(0)),
                               m1.prior.loss(4.0 * tok, ids, mask, jax.random.key(0)), rtol=1e-5)
    np.testing.assert_allclose(sample_first(m2, ids, mask, jax.random.key(1)),
                               sample_first(m1, ids, mask, jax.random.key(1)) / 4.0, atol=1e-5)


def test_guidance_contrasts_the_prompt_with_the_null_prompt():
    """v = v_null + g (v_prompt - v_null): g = 1 is the plain conditional flow, g = 0 the null prompt's flow."""
    from worldsim.dynamics.prior import null_prompt

    m = perturbed()
    ids, mask = encode_prompts(PROMPTS, CFG.max_text_bytes)
    key = jax.random.key(2)
    plain = m.sample_first_frame(ids, mask, key)
    np.testing.assert_array_equal(m.sample_first_frame(ids, mask, key, guidance=1.0), plain)
    np.testing.assert_allclose(m.sample_first_frame(ids, mask, key, guidance=0.0),
                               m.sample_first_frame(*null_prompt(*ids.shape), key), atol=1e-5)
    assert float(jnp.abs(m.sample_first_frame(ids, mask, key, guidance=3.0) - plain).max()) > 1e-3
    # training with drop = 1 is training on the null prompt only
    tok = m.to_tokens(jnp.asarray(np.random.default_rng(0).normal(size=(2,) + CFG.latent_shape), jnp.float32))
    np.testing.assert_allclose(m.prior.loss(tok, ids, mask, key, drop=1.0),
                               m.prior.loss(tok, *null_prompt(*ids.shape), key), rtol=1e-6)
    assert float(m.prior.loss(tok, ids, mask, key, drop=1.0)) != float(m.prior.loss(tok, ids, mask, key))
    with pytest.raises(ValueError, match="NUL"):  # the null prompt's marker cannot be typed in
        encode_prompts(["a red\x00 ball"], CFG.max_text_bytes)


def test_the_simulator_guides_first_frames_by_the_models_sampling_setting():
    import dataclasses

    import worldsim as ws
    from worldsim.sim import Sampling, WorldModel

    world = WorldModel.random(dynamics_config=CFG)
    world.sampling = dataclasses.replace(world.sampling, first_guidance=2.5, first_temperature=0.7)
    assert Sampling.from_dict(world.sampling.to_dict()) == world.sampling
    assert Sampling.from_dict({}).first_guidance == 1.0  # models recorded before guidance existed: none
    ids, mask = encode_prompts(PROMPTS[:1], CFG.max_text_bytes)
    key = jax.random.key(5)
    want = world.dynamics.sample_first_frame(ids, mask, key, temperature=0.7, guidance=2.5)[0]
    np.testing.assert_allclose(ws.Simulator(world).reset(key, PROMPTS[0]).latent, want, atol=1e-5)
    plain = world.dynamics.sample_first_frame(ids, mask, key, temperature=0.7)[0]
    np.testing.assert_allclose(ws.Simulator(world, first_guidance=1.0).reset(key, PROMPTS[0]).latent, plain,
                               atol=1e-5)
    with pytest.raises(ValueError, match="first_guidance"):
        ws.Simulator(world, first_guidance=-1.0)
