"""Object anchor: hold a rollout to the balls it started with, moved by the model's own velocity readings.

Sampled rollouts drift: frame by frame a ball shrinks, fades, changes colour or merges with a neighbour, and after
32 frames half the frames have the wrong ball count; the balls also move at about 0.7x their true speed, while the
state head reads velocities from the same model's hidden states to 0.045-0.064 world units/s (experiments/default/
results.md, "Object anchor"). The layout renderer (layout.py) draws a latent frame from a list of balls (colour,
centre, radius). The anchor, per episode:

1. at the start, finds which colours are present (the state head) and each ball's radius and centre, by fitting
   the renderer's frame to the last given latent frame (gradient descent through the renderer: analysis by
   synthesis, centres to about 0.001 world units);
2. after each sampled (and reprojected) frame, moves each ball by dt times the velocity of its move over the
   frame that the model's motion head reads from the current frame's hidden state and the frame's action
   (state.MotionHead: pushes, falls and bounces included) and, with DynamicsConfig.motion_layout, from the
   layout held here: centres, radii, and each ball's last move (recorded at every move; at the start, from the
   balls fitted to the given frame before the last one, where there is one). A model without a motion head moves
   each ball by a weighted mean of two velocities the state head reads: of the current frame (weight
   1 - SAMPLE_WEIGHT; a push or a fall within the frame is not in it yet), and of the sampled next frame
   (SAMPLE_WEIGHT; it carries them, but is read off a sample that under-moves);
3. pushes balls that overlap apart along the line of their centres and keeps them inside the box (no world lets
   balls interpenetrate or leave);
4. draws the frame again from that layout, which is what the dynamics reads next.

So which balls exist, their colours and sizes are held; how they move is what the model reads from its own
rollout. It applies only to scenes the renderer can draw: an episode whose starting frame its best layout explains
worse than MAX_MSE (an occluder, a user's video, balls the renderer never saw) runs without it.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from worldsim.dynamics.layout import Layout, LayoutRenderer, offsets, other_pairs

# seconds between frames of the worlds the state head's velocities were learned on (WorldConfig.dt; written here,
# not imported: the model knows nothing of the worlds; tests/test_anchor.py checks the two agree)
FRAME_DT = 0.05
START_STEPS, START_LR = 80, 0.003  # on the given frame: centres (from the state head) and radii (from START_RADIUS)
START_RADIUS = 0.06  # world units; the worlds' radii are 0.04-0.1
# Mean squared latent error of the fitted layout's frame above which the anchor stays off: in-distribution starting
# frames measure 0.0005-0.0024, an occluder bar 0.05-0.06 (experiments/default/results.md, "Object anchor").
MAX_MSE = 0.01
SEPARATE_ITERS = 4
# Without a motion head: weight of the sampled frame's velocity in each move (the current frame's gets the rest).
# Chosen on 64 development
# clips (held-out seeds the report does not use; experiments/default/results.md, "Anchor motion rule"): velocity
# score 0.51 / 0.57 on bouncing_balls / gravity at 0.5 (the trapezoidal rule), 0.55 / 0.56 at 0.25, 0.56 / 0.49 at 0
# (the current frame's alone): the sample's reading brings gravity's acceleration, and the sample's under-movement.
SAMPLE_WEIGHT = 0.25


class Anchor(NamedTuple):
    """Per episode (leaves with leading batch axes M): on (M,) bool, present (M, C) bool, radius (M, C) and xy
    (M, C, 2) the balls' centres, world units; move (M, C, 2) each ball's last move over a frame / dt (world
    units / s) where known (M,) (from two given frames, or once the anchor has moved the balls)."""

    on: jax.Array
    present: jax.Array
    radius: jax.Array
    xy: jax.Array
    move: jax.Array
    known: jax.Array


def off(batch: tuple[int, ...], num_colours: int) -> Anchor:
    """An anchor that does nothing (for episodes or models without one)."""
    xy = jnp.zeros(batch + (num_colours, 2), jnp.float32)
    return Anchor(on=jnp.zeros(batch, bool), present=jnp.zeros(batch + (num_colours,), bool),
                  radius=jnp.zeros(batch + (num_colours,), jnp.float32), xy=xy, move=xy,
                  known=jnp.zeros(batch, bool))


def fit(render: LayoutRenderer, z, present, xy0, radius0, steps: int, lr: float):
    """Centres (M, C, 2) and radii (M, C) whose rendered frame is nearest z (M, g, g, D) in squared error, by
    `steps` Adam steps from xy0 / radius0 -> (xy, radius). Absent balls get no gradient and keep their start."""
    opt = optax.adam(lr)

    def loss(p):
        return jnp.sum((render(Layout(present, *p)) - z) ** 2)

    def body(carry, _):
        p, s = carry
        updates, s = opt.update(jax.grad(loss)(p), s, p)
        return (optax.apply_updates(p, updates), s), None

    p = (jnp.asarray(xy0, jnp.float32), jnp.asarray(radius0, jnp.float32))
    (p, _), _ = jax.lax.scan(body, (p, opt.init(p)), None, length=steps)
    return p


def separate(present, xy, radius, iters: int = SEPARATE_ITERS):
    """Push overlapping present balls apart (each by half the overlap, along the centre line; a few Jacobi sweeps)
    and keep every ball inside the box [r, 1 - r]^2 -> xy (M, C, 2)."""
    pairs = other_pairs(present)
    for _ in range(iters):
        d, dist = offsets(xy)  # (M, C, C, 2): i minus j; (M, C, C)
        over = jnp.where(pairs, jnp.maximum(radius[..., :, None] + radius[..., None, :] - dist, 0.0), 0.0)
        xy = xy + jnp.sum(0.5 * over[..., None] * d / dist[..., None], -2)
        xy = jnp.clip(xy, radius[..., None], 1.0 - radius[..., None])
    return xy


def start(render: LayoutRenderer, z, present_logit, pos, z_prev=None, dt: float = FRAME_DT) -> Anchor:
    """The anchor of episodes whose last given latent frame is z (M, g, g, D), with the state head's presence
    logits (M, C) and centres (M, C, 2) of that frame. z_prev (M, g, g, D): the given frame before it, if any;
    the same balls fitted to it (from where they are in z) give each ball's last move."""
    present = present_logit > 0
    xy, radius = fit(render, z, present, pos, jnp.full(present.shape, START_RADIUS), START_STEPS, START_LR)
    mse = jnp.mean((render(Layout(present, xy, radius)) - z) ** 2, axis=(1, 2, 3))
    on = (mse < MAX_MSE) & present.any(-1)
    if z_prev is None:
        move, known = jnp.zeros_like(xy), jnp.zeros(on.shape, bool)
    else:
        xy_prev, _ = fit(render, z_prev, present, xy, radius, START_STEPS, START_LR)
        move, known = (xy - xy_prev) / dt, on
    return Anchor(on=on, present=present, radius=radius, xy=xy, move=move, known=known)


def hold(render: LayoutRenderer, anchor: Anchor, z, vel_now, vel_next=None, dt: float = FRAME_DT) -> tuple[
        jax.Array, Anchor]:
    """A sampled latent frame z (M, g, g, D) -> (the frame its anchored layout draws, the anchor moved on).
    vel_now / vel_next (M, C, 2), world units/s: the state head's velocities of the current frame and of z,
    weighted by SAMPLE_WEIGHT; vel_next None: vel_now is the move (a motion head's reading).
    Episodes whose anchor is off keep z and their anchor."""
    v = vel_now if vel_next is None else (1.0 - SAMPLE_WEIGHT) * vel_now + SAMPLE_WEIGHT * vel_next
    xy = anchor.xy + dt * v
    xy = separate(anchor.present, xy, anchor.radius)
    drawn = render(Layout(anchor.present, xy, anchor.radius))
    on = anchor.on
    return (jnp.where(on[:, None, None, None], drawn, z),
            anchor._replace(xy=jnp.where(on[:, None, None], xy, anchor.xy),
                            move=jnp.where(on[:, None, None], (xy - anchor.xy) / dt, anchor.move), known=on))
