"""Object anchor: the fit finds the balls a renderer drew, overlapping balls are pushed apart inside the box, an
anchor holds count and sizes while it is on and changes nothing while it is off (scenes it cannot draw), and the
Simulator, the sampling settings and generate carry it; clear errors for a model that cannot anchor."""

import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from worldsim.dynamics import DynamicsConfig
from worldsim.dynamics import anchor as A
from worldsim.dynamics.layout import Layout, LayoutRenderer

CFG = DynamicsConfig.tiny().replace(layout_dim=16, layout_heads=2, layout_text_layers=1, layout_render_dim=16,
                                    layout_render_layers=1)


def three_balls(m: int = 2) -> Layout:
    present = np.zeros((m, 6), bool)
    present[:, [0, 2, 5]] = True
    xy = np.zeros((m, 6, 2), np.float32)
    xy[:, 0], xy[:, 2], xy[:, 5] = (0.25, 0.3), (0.7, 0.35), (0.5, 0.75)
    radius = np.full((m, 6), 0.08, np.float32)
    return Layout(jnp.asarray(present), jnp.asarray(xy), jnp.asarray(radius))


@pytest.fixture(scope="module")
def render():
    return LayoutRenderer(CFG, rngs=nnx.Rngs(0))


def held(layout: Layout, on, move=None, known=None) -> A.Anchor:
    """An anchor holding `layout`'s balls; last moves unknown unless given."""
    on = jnp.asarray(on)
    return A.Anchor(on=on, present=layout.present, radius=layout.radius, xy=layout.xy,
                    move=jnp.zeros_like(layout.xy) if move is None else jnp.asarray(move, jnp.float32),
                    known=jnp.zeros_like(on) if known is None else jnp.asarray(known))


def _err(xy, layout):
    p = np.asarray(layout.present)
    return float(np.sqrt(np.mean(((np.asarray(xy) - np.asarray(layout.xy))[p]) ** 2)))


def test_the_fit_finds_the_balls_the_renderer_drew(render):
    layout = three_balls()
    z = render(layout)
    off = layout.xy + jnp.asarray([[0.03, -0.02]])  # every ball misplaced by 0.036
    fit = nnx.jit(lambda r, z, xy0, r0: A.fit(r, z, layout.present, xy0, r0, 150, 0.003))
    xy, radius = fit(render, z, off, jnp.full(layout.radius.shape, 0.06))
    assert _err(xy, layout) < 0.25 * _err(off, layout), (_err(xy, layout), _err(off, layout))
    p = np.asarray(layout.present)
    assert np.abs(np.asarray(radius)[p] - 0.08).max() < 0.015  # from 0.06
    np.testing.assert_array_equal(np.asarray(radius)[~p], np.float32(0.06))  # absent slots are left alone


def test_overlapping_balls_are_pushed_apart_inside_the_box():
    present = jnp.asarray([[True, True, True, False]])
    xy = jnp.asarray([[[0.5, 0.5], [0.55, 0.5], [0.02, 0.99], [0.5, 0.5]]])  # 0 and 1 overlap; 2 sticks out
    radius = jnp.asarray([[0.1, 0.1, 0.05, 0.2]])
    out = np.asarray(A.separate(present, xy, radius, iters=8))[0]
    assert np.linalg.norm(out[0] - out[1]) >= 0.2 - 1e-3
    np.testing.assert_allclose(out[:2, 1], 0.5, atol=1e-6)  # along the line of centres
    np.testing.assert_allclose(out[2], (0.05, 0.95), atol=1e-6)
    np.testing.assert_array_equal(out[3], (0.5, 0.5))  # absent: untouched by its overlap with 0 and 1
    apart = jnp.asarray([[[0.2, 0.2], [0.6, 0.6], [0.5, 0.1], [0.5, 0.5]]])
    np.testing.assert_allclose(A.separate(present, apart, radius), apart, atol=1e-6)


def test_an_anchor_holds_the_balls_while_on_and_is_a_no_op_while_off(render):
    layout = three_balls()
    z = render(layout)
    logit = jnp.where(layout.present, 5.0, -5.0)
    start = nnx.jit(lambda r, z, logit, pos: A.start(r, z, logit, pos))
    anc = start(render, z, logit, layout.xy + 0.02)
    assert np.asarray(anc.on).all()
    np.testing.assert_array_equal(anc.present, layout.present)
    assert _err(anc.xy, layout) < 0.01
    noise = jax.random.normal(jax.random.key(0), z.shape)  # a frame no layout draws: the anchor stays off
    assert not np.asarray(start(render, noise, logit, layout.xy).on).any()

    hold = nnx.jit(A.hold, static_argnames="dt")
    gone = render(layout._replace(present=layout.present.at[:, 5].set(False)))  # a sample that lost a ball
    v_now = jnp.zeros_like(layout.xy).at[:, 0].set((1.0, 0.0))
    v_next = jnp.zeros_like(layout.xy).at[:, 0].set((0.6, 0.4)).at[:, 5].set((0.0, -2.0))
    held, after = hold(render, anc, gone, v_now, v_next, dt=0.05)
    np.testing.assert_array_equal(after.present, layout.present)  # the lost ball is drawn again
    np.testing.assert_allclose(held, render(Layout(after.present, after.xy, after.radius)), atol=1e-5)
    moved = np.asarray(after.xy - anc.xy)  # dt x the weighted mean of the two velocities
    w = A.SAMPLE_WEIGHT
    np.testing.assert_allclose(moved[:, 0], [[0.05 * (1 - w + 0.6 * w), 0.05 * 0.4 * w]] * 2, atol=1e-6)
    np.testing.assert_allclose(moved[:, 5], [[0.0, -0.1 * w]] * 2, atol=1e-6)
    np.testing.assert_allclose(moved[:, 2], 0.0, atol=1e-6)
    _, alone = hold(render, anc, gone, v_now, None, dt=0.05)  # a move read by a motion head: no sample's velocity
    np.testing.assert_allclose(np.asarray(alone.xy - anc.xy)[:, 0], [[0.05, 0.0]] * 2, atol=1e-6)
    mixed = anc._replace(on=jnp.asarray([True, False]))
    held, after = hold(render, mixed, noise, v_now, v_next, dt=0.05)
    np.testing.assert_array_equal(held[1], noise[1])  # off: the sample as it was, the anchor as it was
    np.testing.assert_array_equal(after.xy[1], anc.xy[1])
    assert float(jnp.abs(held[0] - noise[0]).max()) > 0.1


def test_the_simulator_steps_an_anchored_episode():
    import worldsim as ws
    from worldsim.sim import Sampling, WorldModel

    model = WorldModel.random(dynamics_config=CFG)
    assert model.dynamics.can_anchor
    assert Sampling.from_dict(Sampling(anchor=True).to_dict()).anchor and not Sampling.from_dict({}).anchor
    sim = ws.Simulator(model, batch_size=2, anchor=True)
    frames = np.zeros((2, 2, model.resolution, model.resolution, 3), np.uint8)
    state = sim.reset(jax.random.key(0), frames=frames)
    assert state.anchor.present.shape == (2, 6) and state.anchor.on.shape == (2,)
    layout = three_balls()  # a random model's renderer draws none of its frames: switch the anchor on by hand
    state = state._replace(anchor=held(layout, [True, False]))
    state, outs = sim.rollout(state, np.zeros((2, 3, model.action_dim), np.float32), jax.random.key(1))
    np.testing.assert_array_equal(state.anchor.present, layout.present)
    drawn = nnx.jit(lambda r, lay: r(lay))(model.dynamics.layout.render,
                                           Layout(state.anchor.present, state.anchor.xy, state.anchor.radius))
    np.testing.assert_allclose(outs.latent[0, -1], drawn[0], atol=1e-4)  # on: the frame is the held layout's
    np.testing.assert_array_equal(state.anchor.xy[1], layout.xy[1])  # off: untouched
    plain = ws.Simulator(WorldModel.random())
    with pytest.raises(ValueError, match="anchor=False"):
        ws.Simulator(plain.model, anchor=True)
    with pytest.raises(ValueError, match="anchor"):
        ws.Simulator(model, anchor="yes")


def test_generate_with_an_anchor_that_stays_off_changes_nothing():
    from worldsim.dynamics import DynamicsModel
    from worldsim.train.dynamics import generate

    m = DynamicsModel(CFG, rngs=nnx.Rngs(0))
    lat = np.asarray(jax.random.normal(jax.random.key(0), (2, 5) + CFG.latent_shape))  # no layout draws these
    acts = np.zeros((2, 5, CFG.action_dim), np.float32)
    text = (np.zeros((2, CFG.max_text_bytes), np.int32), np.zeros((2, CFG.max_text_bytes), bool))
    plain = generate(m, lat, acts, text, 2, jax.random.key(3), temperature=0.5)
    held = generate(m, lat, acts, text, 2, jax.random.key(3), temperature=0.5, anchor=True)
    np.testing.assert_allclose(held, plain, atol=1e-6)


def test_the_shipped_model_anchors_ball_scenes_and_declines_an_occluder():
    """MAX_MSE on the real renderer: a bouncing_balls frame is drawn (the balls of its colours, their radii), a
    frame with the occluder bar is not (the anchor would paint balls over the bar)."""
    import worldsim as ws
    from worldsim.dynamics.state import states_by_colour

    model = ws.load("default")
    plain = ws.worlds.make("bouncing_balls", num_frames=3).sample(jax.random.key(1), 1)
    barred = ws.worlds.make("bouncing_balls", num_frames=3, occluder=True).sample(jax.random.key(2), 1)
    frames = np.concatenate([np.asarray(plain.frames), np.asarray(barred.frames)])
    state = ws.Simulator(model, batch_size=2, anchor=True).reset(jax.random.key(0), frames=frames)
    assert np.asarray(state.anchor.on).tolist() == [True, False]
    s = jax.tree.map(lambda x: x[0, -1], plain.states)
    _, radius, present = states_by_colour(s.pos, s.radius[:, None], s.colour, s.present)
    np.testing.assert_array_equal(state.anchor.present[0], present)
    np.testing.assert_allclose(np.asarray(state.anchor.radius[0])[present], radius[present, 0], atol=0.01)


def test_the_command_line_and_the_play_config_take_an_anchor(capsys):
    from worldsim.cli import main
    from worldsim.play import PlayConfig
    from worldsim.probes.model_predictor import ModelPredictor
    from worldsim.sim import Sampling, WorldModel

    with pytest.raises(SystemExit) as e:
        main(["eval", "--model", "copy_last", "--suite", "quick", "--out", "unused", "--anchor"])
    assert e.value.code == 2 and "drop --anchor" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["eval", "--model", "copy_last", "--suite", "quick", "--out", "unused", "--no-anchor"])
    assert e.value.code == 2 and "drop --no-anchor" in capsys.readouterr().err
    from worldsim.cli import build_parser

    for flags, want in (([], None), (["--anchor"], True), (["--no-anchor"], False)):
        assert build_parser().parse_args(["play"] + flags).anchor is want
        assert build_parser().parse_args(["demo"] + flags).anchor is want
    assert PlayConfig(anchor=True).anchor and PlayConfig().anchor is None
    with pytest.raises(ValueError, match="anchor"):
        PlayConfig(anchor=1)
    model = WorldModel.random(dynamics_config=CFG)
    p = ModelPredictor(model, anchor=True)
    assert p.name.endswith("(anchored)") and p._sim(2).anchor
    assert ModelPredictor(model).name == ModelPredictor(model, anchor=False).name  # the model's own: no tag
    anchored = WorldModel(model.tokenizer, model.dynamics, sampling=Sampling(anchor=True))
    assert ModelPredictor(anchored)._sim(2).anchor and not ModelPredictor(anchored, anchor=False)._sim(2).anchor
    assert ModelPredictor(anchored, anchor=False).name.endswith("(plain)")


def test_a_motion_head_reads_each_balls_move_and_the_anchor_moves_balls_by_it():
    """The motion head's targets are the mean velocity over the coming frame; a model with one reads its move
    (not the state head's velocity of the current frame) as the anchor's current-frame velocity; it survives
    export and load; it needs a state head."""
    from worldsim.dynamics import DynamicsModel
    from worldsim.dynamics.load import export, load
    from worldsim.dynamics.state import motion_targets

    pos = np.asarray([[[0.2, 0.5], [0.0, 0.0]], [[0.3, 0.4], [0.5, 0.5]], [[0.35, 0.4], [0.6, 0.5]]], np.float32)
    present = np.asarray([[True, False], [True, True], [True, True]])
    target, mask = motion_targets(pos, present, 0.05)
    np.testing.assert_allclose(target[:, 0], [[2.0, -2.0], [1.0, 0.0]], atol=1e-5)
    np.testing.assert_array_equal(mask, [[True, False], [True, True]])  # a ball must be there at both ends
    from worldsim.dynamics.state import motion_loss

    pred = np.asarray(target).copy()
    pred[0, 1] = (9.0, 9.0)  # a slot without a target weighs nothing
    pred[1, 1] += (0.2, 0.0)
    assert abs(float(motion_loss(pred, target, mask)) - 0.04 / 6) < 1e-6  # 3 slots x 2 coordinates
    assert abs(float(motion_loss(pred, target, mask, robust=True)) - 0.2 / 3) < 1e-4  # mean distance, 3 slots

    m = DynamicsModel(CFG.replace(motion_head=True), rngs=nnx.Rngs(0))
    h_now, h_next = (jax.random.normal(jax.random.key(i), (2, CFG.tokens_per_frame, CFG.d_model)) for i in (1, 2))
    vel = m.read_state(h_now).vel
    np.testing.assert_allclose(m.read_motion(h_now), vel, atol=1e-6)  # untrained, it reads the state head's v_t
    m.motion_head.out.bias[...] = jnp.asarray([0.3, -0.2])  # as if trained: a change from v_t
    motion = m.read_motion(h_now)
    assert motion.shape == (2, CFG.num_colours, 2)
    np.testing.assert_allclose(motion, vel + jnp.asarray([0.3, -0.2]), atol=1e-5)
    m.motion_head.out.kernel[...] = 0.1 * jax.random.normal(jax.random.key(3), m.motion_head.out.kernel.shape)
    motion = m.read_motion(h_now)
    push = jnp.asarray([[1.0, 0.0], [0.0, -1.0]])
    assert float(jnp.abs(m.read_motion(h_now, push) - motion).max()) > 1e-3  # it reads the coming action too
    layout = three_balls()
    anc = held(layout, jnp.ones(2, bool))
    z = m.layout.render(layout)
    _, moved = m.hold(anc, z, h_now, h_next, push)
    _, want = A.hold(m.layout.render, anc, z, m.read_motion(h_now, push))  # the move alone (no sample reading)
    _, old = A.hold(m.layout.render, anc, z, vel, m.read_state(h_next).vel)
    np.testing.assert_allclose(moved.xy, want.xy, atol=1e-6)
    assert float(jnp.abs(moved.xy - old.xy).max()) > 1e-4

    with tempfile.TemporaryDirectory() as d:
        export(m, d)
        back = load(d)
    np.testing.assert_allclose(back.read_motion(h_now, push), m.read_motion(h_now, push), atol=1e-6)
    with pytest.raises(ValueError, match="state_head"):
        CFG.replace(motion_head=True, state_head=False)
    with pytest.raises(ValueError, match="motion head"):
        DynamicsModel(CFG, rngs=nnx.Rngs(0)).read_motion(h_now)


def test_the_simulator_moves_anchored_balls_by_the_motion_head_under_the_steps_action():
    import worldsim as ws
    from worldsim.sim import WorldModel

    model = WorldModel.random(dynamics_config=CFG.replace(motion_head=True))
    head = model.dynamics.motion_head
    head.out.kernel[...] = 0.1 * jax.random.normal(jax.random.key(3), head.out.kernel.shape)  # as if trained
    sim = ws.Simulator(model, anchor=True, temperature=0.0)
    state = sim.reset(jax.random.key(0), frames=np.zeros((2, model.resolution, model.resolution, 3), np.uint8))
    layout = three_balls(1)
    state = state._replace(anchor=jax.tree.map(lambda x: x[0], held(layout, [True])))
    moved = [sim.step(state, np.asarray(a, np.float32), jax.random.key(1))[0].anchor.xy for a in ((1, 0), (0, 1))]
    assert float(jnp.abs(moved[0] - moved[1]).max()) > 1e-4  # the action reaches the motion head


def test_a_layout_reading_motion_head_moves_balls_on_from_their_last_move(render):
    """With DynamicsConfig.motion_layout the motion head also reads the anchor's balls: an untrained head moves a
    ball by its last move where that is known (straight on, frame after frame) and by the state head's v_t where it
    is not; a trained one reads its present neighbours and not absent slots; the anchor records each move it makes;
    two given frames give the first last move; errors name the fix."""
    from worldsim.dynamics import DynamicsModel
    from worldsim.dynamics.load import export, load

    m = DynamicsModel(CFG.replace(motion_head=True, motion_layout=True), rngs=nnx.Rngs(0))
    h = jax.random.normal(jax.random.key(1), (2, CFG.tokens_per_frame, CFG.d_model))
    layout = three_balls()
    move = jnp.zeros_like(layout.xy).at[:, 0].set((0.4, -0.2)).at[:, 5].set((-0.3, 0.1))
    anc = held(layout, jnp.ones(2, bool), move, [True, False])
    read = m.read_motion(h, None, anc)
    np.testing.assert_allclose(read[0], move[0], atol=1e-6)  # known: straight on
    np.testing.assert_allclose(read[1], m.read_state(h).vel[1], atol=1e-6)  # unknown: the state head's v_t
    z = m.layout.render(layout)
    _, after = m.hold(anc, z, h, None, None)
    np.testing.assert_allclose(after.move, (after.xy - anc.xy) / A.FRAME_DT, atol=1e-4)  # each move is recorded
    assert np.asarray(after.known).all()
    _, again = m.hold(after, z, h, None, None)
    np.testing.assert_allclose(again.xy[0, 0] - after.xy[0, 0], after.xy[0, 0] - anc.xy[0, 0], atol=1e-5)

    head = m.motion_head
    head.out.kernel[...] = 0.1 * jax.random.normal(jax.random.key(3), head.out.kernel.shape)  # as if trained
    base = m.read_motion(h, None, anc)
    near = anc._replace(xy=anc.xy.at[:, 5].set((0.35, 0.35)))  # ball 5 moves next to ball 0
    assert float(jnp.abs(m.read_motion(h, None, near)[:, 0] - base[:, 0]).max()) > 1e-4
    ghost = anc._replace(xy=anc.xy.at[:, 1].set((0.3, 0.3)))  # slot 1 is absent: it is nobody's neighbour
    np.testing.assert_allclose(m.read_motion(h, None, ghost)[:, [0, 2, 5]], base[:, [0, 2, 5]], atol=1e-6)
    with tempfile.TemporaryDirectory() as d:
        export(m, d)
        back = load(d)
    assert back.config.motion_layout
    np.testing.assert_allclose(back.read_motion(h, None, anc), base, atol=1e-6)

    shifted = layout._replace(xy=layout.xy - jnp.asarray([0.01, -0.005]))  # the frame before: 0.01 left, 0.005 up
    start = nnx.jit(lambda r, z, logit, pos, z_prev: A.start(r, z, logit, pos, z_prev))
    logit = jnp.where(layout.present, 5.0, -5.0)
    two = start(render, render(layout), logit, layout.xy + 0.01, render(shifted))
    assert np.asarray(two.known).all()
    p = np.asarray(layout.present)
    np.testing.assert_allclose(np.asarray(two.move)[p], np.broadcast_to([0.2, -0.1], (p.sum(), 2)), atol=0.05)
    assert not np.asarray(start(render, render(layout), logit, layout.xy, None).known).any()

    import worldsim as ws
    from worldsim.sim import WorldModel
    from worldsim.train.dynamics import generate

    model = WorldModel.random(dynamics_config=m.config)  # random weights everywhere: make the head untrained
    for p in (model.dynamics.motion_head.out.kernel, model.dynamics.motion_head.out.bias):
        p[...] = jnp.zeros_like(p[...])
    sim = ws.Simulator(model, anchor=True, temperature=0.0)
    frames = np.zeros((2, model.resolution, model.resolution, 3), np.uint8)  # two given frames: a last move
    state = sim.reset(jax.random.key(0), frames=frames)
    assert state.anchor.move.shape == (6, 2) and state.anchor.known.shape == ()
    state = state._replace(anchor=jax.tree.map(lambda x: x[0], held(layout, [True], move[:1], [True])))
    stepped = sim.step(state, np.zeros(model.action_dim, np.float32), jax.random.key(1))[0]
    np.testing.assert_allclose(stepped.anchor.xy[0] - state.anchor.xy[0], A.FRAME_DT * move[0, 0], atol=1e-5)
    lat = np.asarray(jax.random.normal(jax.random.key(0), (2, 4) + CFG.latent_shape))  # no layout draws these
    acts = np.zeros((2, 4, CFG.action_dim), np.float32)
    text = (np.zeros((2, CFG.max_text_bytes), np.int32), np.zeros((2, CFG.max_text_bytes), bool))
    np.testing.assert_allclose(generate(m, lat, acts, text, 2, jax.random.key(3), temperature=0.5, anchor=True),
                               generate(m, lat, acts, text, 2, jax.random.key(3), temperature=0.5), atol=1e-6)

    with pytest.raises(ValueError, match="pass balls"):
        m.read_motion(h)
    with pytest.raises(ValueError, match="balls=None"):
        DynamicsModel(CFG.replace(motion_head=True), rngs=nnx.Rngs(0)).read_motion(h, None, anc)
    with pytest.raises(ValueError, match="motion_head=True"):
        CFG.replace(motion_layout=True)
    with pytest.raises(ValueError, match="motion_layout=True"):
        CFG.replace(motion_head=True, motion_gate=True)

    gated = DynamicsModel(m.config.replace(motion_gate=True), rngs=nnx.Rngs(0))
    nnx.update(gated, nnx.state(m))  # the same trained head, now with a gate
    assert float(jnp.abs(gated.read_motion(h, None, anc) - base).max()) > 1e-4  # a new gate is open, not fully
    gated.motion_head.gate.bias[...] = jnp.full((1,), -30.0)  # closed: each ball moves on by its last move
    np.testing.assert_allclose(gated.read_motion(h, None, anc)[0], move[0], atol=1e-6)


def test_the_anchors_frame_interval_is_the_worlds():
    from worldsim.worlds.config import WorldConfig

    assert A.FRAME_DT == WorldConfig().dt
