"""The worlds' public API: registry, episodes, rendering, captions, violation pairs, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import worldsim as ws


def test_registry_and_splits():
    assert {"bouncing_balls", "gravity", "push"} <= set(ws.worlds.names())
    for name in ws.worlds.names():
        assert ws.worlds.splits(name)[0] == "id"
    assert {"speed_slow", "speed_fast", "radius_large", "count"} <= set(ws.worlds.splits("bouncing_balls"))
    assert {"gravity_weak", "gravity_strong"} <= set(ws.worlds.splits("gravity"))
    fast = ws.worlds.make("bouncing_balls", split="speed_fast").config
    assert fast.speed[0] > ws.worlds.make("bouncing_balls").config.speed[1]  # outside the ID range


@pytest.mark.parametrize("resolution", [32, 64, 128])
def test_sample_shapes_dtypes(resolution):
    world = ws.worlds.make("push", resolution=resolution, num_frames=6)
    ep = world.sample(jax.random.key(0), 2)
    k = world.config.capacity
    assert ep.frames.shape == (2, 6, resolution, resolution, 3) and ep.frames.dtype == jnp.uint8
    assert ep.states.pos.shape == (2, 6, k, 2) and ep.states.vel.shape == (2, 6, k, 2)
    assert ep.states.radius.shape == (2, 6, k) and ep.states.present.dtype == jnp.bool_
    assert ep.actions.shape == (2, 6, 2) and len(ep.captions) == 2 and len(ep.facts) == 2


def test_determinism_and_key_dependence():
    world = ws.worlds.make("bouncing_balls", resolution=32, num_frames=8)
    a, b = world.sample(jax.random.key(4), 3), world.sample(jax.random.key(4), 3)
    c = world.sample(jax.random.key(5), 3)
    assert np.array_equal(a.frames, b.frames) and a.captions == b.captions
    assert not np.array_equal(a.frames, c.frames)


def test_render_reproduces_sampled_frames_and_any_states():
    world = ws.worlds.make("gravity", resolution=32, num_frames=5)
    ep = world.sample(jax.random.key(1), 2)
    assert np.array_equal(world.render(ep.states), ep.frames)
    # States from elsewhere: one ball at the image centre, drawn symmetric about it.
    s = ws.worlds.ball_states(pos=[[[0.5, 0.5]]], radius=0.1, colour=[[2]])
    img = np.asarray(world.render(s))[0].astype(int)
    assert img.shape == (32, 32, 3) and img[16, 16, 2] == 255 and img[16, 16, 0] == 0
    assert np.array_equal(img, img[::-1]) and np.array_equal(img, img[:, ::-1])


def test_render_is_antialiased():
    world = ws.worlds.make("bouncing_balls", resolution=64)
    s = ws.worlds.ball_states(pos=[[[0.5, 0.5]]], radius=0.1, colour=[[0]])
    red = np.asarray(world.render(s))[0, ..., 0]
    partial = (red > 0) & (red < 255)
    assert partial.sum() > 20  # a soft edge ring, not a hard mask


def test_occluder_hides_balls_behind_it():
    world = ws.worlds.make("bouncing_balls", occluder=True, resolution=64)
    s = ws.worlds.ball_states(pos=[[[0.5, 0.5]]], radius=0.035, colour=[[1]])
    img = np.asarray(world.render(s))[0]
    assert np.all(img[32, 32] == 128)  # grey bar drawn over the ball
    assert np.all(img[:, :, 1] <= img[:, :, 0])  # no green pixel: the ball is narrower than the bar


def test_captions_are_deterministic_and_match_the_state():
    world = ws.worlds.make("bouncing_balls", resolution=32, num_frames=4)
    ep = world.sample(jax.random.key(9), 16)
    for cap, facts, present in zip(ep.captions, ep.facts, np.asarray(ep.states.present[:, 0])):
        n = int(present.sum())
        assert facts["count"] == n
        assert cap.lower().startswith(ws.worlds.captions.NUMBER_WORDS[n])
        for colour in facts["colours"]:
            assert colour in cap
        for ball in facts["balls"]:
            assert ball["size"] in ("small", "medium", "large") and ball["region"] in cap
    push = ws.worlds.make("push", resolution=32, num_frames=4).sample(jax.random.key(0), 4)
    assert all("you push the red one" in c for c in push.captions)
    assert all(f["controlled"] == "red" for f in push.facts)


@pytest.mark.parametrize("kind", ws.worlds.VIOLATION_KINDS)
def test_violation_pairs_identical_until_the_violation(kind):
    name = "gravity" if kind == "gravity_flip" else "bouncing_balls"
    world = ws.worlds.make(name, resolution=32, num_frames=16)
    pair = world.sample_violations(jax.random.key(1), 6, kind)
    a, b = np.asarray(pair.possible.frames), np.asarray(pair.impossible.frames)
    for i, tv in enumerate(pair.frame):
        assert 1 <= tv < 16
        assert np.array_equal(a[i, :tv], b[i, :tv])
        assert not np.array_equal(a[i, tv], b[i, tv])
    assert pair.possible.captions == pair.impossible.captions


def test_gravity_flip_makes_the_ball_rise_against_gravity():
    world = ws.worlds.make("gravity", num_balls=(1, 1), resolution=32, num_frames=16)
    pair = world.sample_violations(jax.random.key(2), 4, "gravity_flip")
    g = np.asarray(pair.impossible.states.gravity[:, -1, 1])
    assert np.all(g < 0) and np.all(np.asarray(pair.possible.states.gravity[:, -1, 1]) > 0)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ws.worlds.make("bouncy"), "valid names are bouncing_balls"),
        (lambda: ws.worlds.make("gravity", split="moon"), "choose one of id"),
        (lambda: ws.worlds.make("gravity", colour="red"), "unknown world option"),
        (lambda: ws.worlds.make("gravity", resolution=8), "resolution=8 is not supported"),
        (lambda: ws.worlds.make("gravity", resolution=64.0), "not supported"),
        (lambda: ws.worlds.make("gravity", num_balls=(0, 2)), "num_balls"),
        (lambda: ws.worlds.make("gravity", num_balls=(1, 7)), "num_balls"),
        (lambda: ws.worlds.make("gravity", radius=(0.1, 0.05)), "radius"),
        (lambda: ws.worlds.make("gravity", num_balls=(6, 6), radius=(0.15, 0.2)), "too dense"),
        (lambda: ws.worlds.make("gravity").sample(jax.random.key(0), 0), "batch_size=0"),
        (lambda: ws.worlds.make("gravity").sample(0, 2), "PRNG key"),
        (lambda: ws.worlds.make("bouncing_balls").sample_violations(jax.random.key(0), 2, "gravity_flip"), "gravity"),
        (lambda: ws.worlds.make("gravity").sample_violations(jax.random.key(0), 2, "wobble"), "unknown violation"),
        (lambda: ws.worlds.make("gravity").render(ws.worlds.ball_states([[0.5, 0.5]], 0.1, 0)._replace(radius=jnp.ones(3))), "radius must have shape"),
        (lambda: ws.worlds.ball_states(jnp.zeros((3,)), 0.1, 0), r"pos must have shape"),
        (lambda: ws.worlds.make("gravity").render(ws.worlds.ball_states([[jnp.nan, 0.5]], 0.1, 0)), "NaN or inf"),
        (lambda: ws.worlds.make("gravity").render(ws.worlds.ball_states([[jnp.inf, 0.5]], 0.1, 0)), "NaN or inf"),
        (lambda: ws.worlds.make("gravity").render(ws.worlds.ball_states([[0.5, 0.5]], jnp.nan, 0)), "NaN or inf"),
        (lambda: ws.worlds.make("gravity").render(ws.worlds.ball_states([[0.5, 0.5]], -0.1, 0)), "radii >= 0"),
        (lambda: ws.worlds.make("push").step(ws.worlds.make("push").reset(jax.random.key(0), 2), jnp.zeros((2, 3))), "actions must have shape"),
        (lambda: ws.worlds.make("push").step(ws.worlds.make("push").reset(jax.random.key(0), 1), jnp.array([[jnp.nan, 0.0]])), "NaN"),
    ],
)
def test_bad_input_gets_a_clear_error(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_render_ignores_bad_values_in_absent_slots():
    s = ws.worlds.ball_states([[0.5, 0.5], [jnp.nan, jnp.inf]], jnp.array([0.1, -1.0]), jnp.array([0, 1]),
                              present=jnp.array([True, False]))
    assert np.asarray(ws.worlds.make("gravity", resolution=32).render(s)).max() > 0  # slot 1 draws nothing anyway


def test_play_reproduces_a_sampled_clip_from_its_start_and_actions():
    world = ws.worlds.make("push", resolution=32, num_frames=12)
    ep = world.sample(jax.random.key(4), 2)
    start = jax.tree.map(lambda x: x[:, 0], ep.states)
    again = world.play(start, np.asarray(ep.actions))
    np.testing.assert_allclose(np.asarray(again.states.pos), np.asarray(ep.states.pos), atol=1e-5)
    assert again.captions == ep.captions and np.asarray(again.frames).shape == np.asarray(ep.frames).shape
    with pytest.raises(ValueError, match="actions must have shape"):
        world.play(start, np.zeros((2, 5, 2), np.float32))
