"""Layout prior: config, it learns a caption's layout and a layout's frame, the sampler's placement rules, the
renderer ignores absent balls, text-only first frames (model, simulator, export) come from it, clear errors."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from worldsim.dynamics import DynamicsConfig, DynamicsModel, encode_prompts
from worldsim.dynamics.layout import Layout, LayoutParse, LayoutPrior

CFG = DynamicsConfig.tiny().replace(layout_dim=16, layout_heads=2, layout_text_layers=1, layout_render_dim=16,
                                    layout_render_layers=1)
PROMPTS = ["a red ball at the top left", "a blue ball at the bottom right"]


def two_layouts() -> Layout:
    present = np.zeros((2, 6), bool)
    present[0, 0] = present[1, 2] = True  # red; blue
    xy = np.zeros((2, 6, 2), np.float32)
    xy[0, 0], xy[1, 2] = (0.2, 0.25), (0.75, 0.8)
    radius = np.full((2, 6), 0.08, np.float32)
    return Layout(jnp.asarray(present), jnp.asarray(xy), jnp.asarray(radius))


def test_config_and_models_without_one():
    assert DynamicsConfig.from_dict(CFG.to_dict()) == CFG
    old = {k: v for k, v in CFG.to_dict().items() if not k.startswith("layout_")}
    assert DynamicsConfig.from_dict(old).layout_dim == 0  # configs written before it: no layout prior
    plain = DynamicsModel(DynamicsConfig.tiny(), rngs=nnx.Rngs(0))
    assert plain.layout is None and not plain.has_first_frame_prior
    for bad in ({"layout_dim": 15}, {"layout_dim": 18, "layout_heads": 2}, {"layout_render_layers": 0}):
        with pytest.raises(ValueError, match="layout_dim"):
            CFG.replace(**bad)


def test_it_learns_a_captions_layout_and_a_layouts_frame():
    """Two captions, two layouts, two target frames: after a short training the parser reads which colour is
    present and where, the renderer draws each layout's frame, and text-only first frames land on their own."""
    graphdef, params = nnx.split(LayoutPrior(CFG, rngs=nnx.Rngs(0)), nnx.Param)
    layout = two_layouts()
    targets = jnp.asarray(np.sign(np.random.default_rng(0).normal(size=(2,) + CFG.latent_shape)), jnp.float32)
    ids, mask = encode_prompts(PROMPTS, CFG.max_text_bytes)
    tx = optax.adam(1e-2)

    @jax.jit
    def train(params):
        def step(carry, _):
            p, opt = carry
            grads = jax.grad(lambda p: nnx.merge(graphdef, p).loss(ids, mask, layout, targets)[0])(p)
            updates, opt = tx.update(grads, opt, p)
            return (optax.apply_updates(p, updates), opt), None

        # 400 steps: at 200 the parse was still settling (centres off by 0.04, radii by 0.01) on this stack's
        # versions, and the second prompt's draw missed its frame; 400 converges (draw error ~0.003 vs ~2 for the
        # other frame)
        return jax.lax.scan(step, (params, tx.init(params)), None, length=400)[0][0]

    @jax.jit
    def results(params):
        m = nnx.merge(graphdef, params)
        return m.parse(ids, mask), m.render(layout), m.sample(ids, mask, jax.random.key(1), temperature=0.0)

    p, drawn, z = results(train(params))
    np.testing.assert_array_equal(np.asarray(p.logit) > 0, np.asarray(layout.present))
    want = np.asarray(layout.xy)[np.asarray(layout.present)]
    np.testing.assert_allclose(np.asarray(p.mean[..., :2])[np.asarray(layout.present)], want, atol=0.05)
    assert float(jnp.mean((drawn - targets) ** 2)) < 0.05  # targets are +-1
    own, other = jnp.mean((z - targets) ** 2, (1, 2, 3)), jnp.mean((z - targets[::-1]) ** 2, (1, 2, 3))
    assert bool(jnp.all(own < 0.2 * other)), (own, other)


class Fixed(LayoutPrior):
    """A layout prior whose parse is given: three balls of radius 0.1 said to be at the centre, std 0.2."""

    def parse(self, ids, mask):
        m = ids.shape[0]
        logit = jnp.where(jnp.arange(6) < 3, 30.0, -30.0) * jnp.ones((m, 1))
        mean = jnp.broadcast_to(jnp.array([0.5, 0.5, 0.1]), (m, 6, 3))
        log_std = jnp.broadcast_to(jnp.log(jnp.array([0.2, 0.2, 1e-3])), (m, 6, 3))
        return LayoutParse(logit, mean, log_std)


def _overlaps(layout: Layout) -> np.ndarray:
    """(M,) whether any two of the first three balls overlap."""
    xy, r = np.asarray(layout.xy[:, :3]), np.asarray(layout.radius[:, :3])
    d = np.linalg.norm(xy[:, :, None] - xy[:, None], axis=-1) + np.eye(3) * 10
    return (d < r[:, :, None] + r[:, None]).any((1, 2))


def test_sampled_balls_lie_in_the_box_and_apart():
    fixed = Fixed(CFG, rngs=nnx.Rngs(0))
    ids, mask = encode_prompts(["three balls"] * 64, CFG.max_text_bytes)
    draw = nnx.jit(lambda m, key, temperature, tries: m.sample_layout(ids, mask, key, temperature, tries),
                   static_argnums=(3,))
    apart = draw(fixed, jax.random.key(0), 1.0, 32)
    assert (np.asarray(apart.present) == (np.arange(6) < 3)).all()
    xy, r = np.asarray(apart.xy[:, :3]), np.asarray(apart.radius[:, :3, None])
    assert (xy >= r - 1e-6).all() and (xy <= 1 - r + 1e-6).all()
    assert _overlaps(apart).mean() < 0.05
    assert _overlaps(draw(fixed, jax.random.key(0), 1.0, 1)).mean() > 0.3  # the check matters
    still = draw(fixed, jax.random.key(0), 0.0, 1)  # the means, every time
    np.testing.assert_allclose(np.asarray(still.xy[:, :3]), 0.5)
    with pytest.raises(ValueError, match="tries"):
        fixed.sample_layout(ids, mask, jax.random.key(0), tries=0)


def test_absent_balls_do_not_change_the_frame():
    r = LayoutPrior(CFG, rngs=nnx.Rngs(0)).render
    layout = two_layouts()
    moved = layout._replace(xy=layout.xy.at[:, 4].set(0.5), radius=layout.radius.at[:, 4].set(0.2))  # absent slot
    np.testing.assert_array_equal(r(layout), r(moved))
    assert float(jnp.abs(r(layout) - r(layout._replace(xy=layout.xy.at[0, 0].set(0.6)))).max()) > 1e-4


def test_the_model_prefers_it_to_the_first_frame_prior():
    both = DynamicsModel(CFG.replace(prior_dim=16, prior_text_dim=16, prior_heads=2, prior_layers=1,
                                     prior_text_layers=1), rngs=nnx.Rngs(0))
    assert both.prior is not None and both.has_first_frame_prior
    ids, mask = encode_prompts(PROMPTS, CFG.max_text_bytes)
    first = nnx.jit(lambda m, key: (m.sample_first_frame(ids, mask, key, temperature=0.7),
                                    m.layout.sample(ids, mask, key, 0.7)))
    got, layout = first(both, jax.random.key(5))
    np.testing.assert_array_equal(got, layout)


def test_the_simulator_and_an_export_draw_text_only_first_frames_from_it(tmp_path):
    from worldsim.dynamics.load import export, load
    from worldsim.sim import WorldModel, compiled

    world = WorldModel.random(dynamics_config=CFG)
    ids, mask = encode_prompts(PROMPTS[:1], CFG.max_text_bytes)
    key = jax.random.key(5)
    first = nnx.jit(lambda m: m.sample_first_frame(ids, mask, key, temperature=0.7))
    want = first(world.dynamics)
    state = compiled.init(world, key, (ids[0], mask[0]), None, None, 0.7)
    np.testing.assert_allclose(state.latent, want[0], atol=1e-5)
    np.testing.assert_array_equal(first(load(export(world.dynamics, tmp_path / "m"))), want)


def test_the_dynamics_trainer_refuses_a_layout_prior(tmp_path):
    from worldsim.train.dynamics import DynamicsTrainConfig, train

    with pytest.raises(ValueError, match="train_layout.py"):
        train(DynamicsTrainConfig(model=CFG), tmp_path)
