"""Self-rollouts in training (worldsim.train.self_rollout) and fine-tuning from an export (warm_start)."""

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from worldsim.dynamics import DynamicsConfig, DynamicsModel
from worldsim.train.self_rollout import SelfRollout, replaced_frames, self_context
from worldsim.train.warm_start import copy_matching

CFG = DynamicsConfig.tiny()


def random_model(seed=0) -> DynamicsModel:
    """A tiny model with every weight random (a fresh one's zero-initialised flow output samples zeros whatever the
    context, which would hide what the context does)."""
    model = DynamicsModel(CFG, rngs=nnx.Rngs(seed))
    state = nnx.state(model, nnx.Param)
    leaves, tree = jax.tree.flatten(state)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    nnx.update(model, jax.tree.unflatten(tree, [x + 0.2 * jax.random.normal(k, x.shape) for x, k in zip(leaves, keys)]))
    return model


def clips(b=4, t=6):
    return jax.random.normal(jax.random.key(3), (b, t) + CFG.latent_shape) * 0.5


def test_replaced_frames_are_a_suffix_from_frame_two_on():
    r = np.asarray(replaced_frames(jax.random.key(0), 256, 10, 0.5))
    assert not r[:, :2].any()  # the prompt-drawn frame and the one after a single true frame stay true
    assert (np.diff(r.astype(int), axis=1) >= 0).all()  # once replaced, replaced to the end: a rollout's suffix
    picked = r.any(1).mean()
    assert 0.4 < picked < 0.6
    starts = np.argmax(r[r.any(1)], axis=1)
    assert set(starts) == set(range(2, 10))  # every start is drawn
    assert np.asarray(replaced_frames(jax.random.key(0), 64, 10, 1.0)).any(1).all()


def test_self_context_holds_the_models_own_samples_passes_deep():
    model = random_model()
    z = clips()
    b, t = z.shape[:2]
    key = jax.random.key(5)
    one = SelfRollout(passes=1, share=1.0, steps=2, temperature=0.0)  # temperature 0: deterministic samples
    ctx1 = self_context(model, z, None, None, key, one)
    replace = np.asarray(replaced_frames(jax.random.fold_in(key, 0), b, t, 1.0))
    h = model(z)
    want = model.sample_frame(h[:, 1:t], jax.random.key(9), 2, 0.0)  # one step from the true context
    np.testing.assert_allclose(np.asarray(ctx1)[replace], np.asarray(want)[replace[:, 1:]], atol=1e-5)
    np.testing.assert_array_equal(np.asarray(ctx1)[~replace], np.asarray(z)[~replace])
    ctx2 = self_context(model, z, None, None, key, one._replace(passes=2))
    first = np.argmax(replace, axis=1)
    rows = np.arange(b)
    # The first replaced frame's context is all true in both passes: the same sample. The next one's context now
    # holds a sample, so it is a two-step rollout's frame, not a one-step one.
    np.testing.assert_allclose(np.asarray(ctx2)[rows, first], np.asarray(ctx1)[rows, first], atol=1e-5)
    later = first + 1 < t
    assert later.any()
    diff = np.abs(np.asarray(ctx2)[rows[later], first[later] + 1] - np.asarray(ctx1)[rows[later], first[later] + 1])
    assert diff.max() > 1e-4


def test_self_context_passes_no_gradient():
    model = random_model()
    z = clips()

    def f(z):
        return jnp.sum(self_context(model, z, None, None, jax.random.key(1), SelfRollout(1, 1.0, 1, 0.0)) ** 2)

    g = np.asarray(jax.grad(f)(z))
    replace = np.asarray(replaced_frames(jax.random.fold_in(jax.random.key(1), 0), *z.shape[:2], 1.0))
    assert np.all(g[replace] == 0)


def test_copy_matching_copies_shared_weights_and_names_the_rest():
    source = DynamicsModel(CFG, rngs=nnx.Rngs(1))
    target = DynamicsModel(CFG.replace(state_head=False, flow_layers=2), rngs=nnx.Rngs(2))
    copied, fresh = copy_matching(target, source)
    assert copied > 0 and fresh and all(k.startswith("flow") for k in fresh)  # the second flow block is new
    np.testing.assert_array_equal(np.asarray(target.inp.kernel[...]), np.asarray(source.inp.kernel[...]))
    np.testing.assert_array_equal(np.asarray(target.flow.blocks[0].mod.kernel[...]),
                                  np.asarray(source.flow.blocks[0].mod.kernel[...]))


def test_noise_level_embedding_starts_silent_and_the_cache_equals_the_forward():
    cfg = CFG.replace(noise_embed=True)
    model = DynamicsModel(cfg, rngs=nnx.Rngs(0))
    z = clips(2, 5)
    level = jnp.asarray([[0.0, 0.05, 0.1, 0.02, 0.0], [0.1, 0.0, 0.03, 0.07, 0.09]])
    # zero-initialised: a fresh embedding changes nothing (a fine-tune starts as the model it starts from)
    np.testing.assert_allclose(model(z, noise_level=level), model(z), atol=1e-6)
    model.noise_level.kernel[...] = 0.1 * jax.random.normal(jax.random.key(1), model.noise_level.kernel.shape)
    full = model(z, noise_level=level)  # (B, T + 1, N, d)
    assert float(jnp.abs(full - model(z)).max()) > 1e-3  # trained, it reads the level
    h, cache = model.prefill(model.init_cache(2))
    steps = [h]
    for t in range(z.shape[1]):
        h, cache = model.step(cache, z[:, t], noise_level=level[:, t])
        steps.append(h)
    np.testing.assert_allclose(np.stack(steps, 1), full, atol=1e-4)  # cached steps = teacher-forced forward
