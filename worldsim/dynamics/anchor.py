"""Object anchor: hold a rollout to the balls it started with.

Sampled rollouts drift: frame by frame a ball shrinks, fades, changes colour or merges with a neighbour, and after
32 frames half the frames have the wrong ball count (experiments/default/results.md). The layout renderer
(layout.py) draws a latent frame from a list of balls (colour, centre, radius), and inverting it by gradient descent
reads where each ball sits in a latent frame to about 0.001-0.002 world units (analysis by synthesis; the state
head reads 0.011). The anchor uses
both, per generated frame:

1. at the start, which colours are present (the state head) and each ball's radius and centre (fitted on the last
   given frame);
2. after each sampled frame, each ball's new centre, fitted starting from its previous centre moved on at its last
   displacement (a fading ball is still found; one the sample lost entirely is still drawn, but its place is then
   the fit's guess);
3. balls that overlap are pushed apart along the line of their centres and kept inside the box (no world lets
   balls interpenetrate or leave);
4. the frame is drawn again from that layout.

Where balls move stays the dynamics model's prediction; what the anchor holds fixed is which balls exist, their
size and colour. It applies only to scenes the renderer can draw: an episode whose starting frame its best layout
explains worse than MAX_MSE (an occluder, a user's video, balls the renderer never saw) runs without it.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from worldsim.dynamics.layout import Layout, LayoutRenderer

FIT_STEPS, FIT_LR = 40, 0.005  # per generated frame: centres only, starting within a ball's displacement
START_STEPS, START_LR = 80, 0.003  # on the given frame: centres (from the state head) and radii (from START_RADIUS)
START_RADIUS = 0.06  # world units; the worlds' radii are 0.04-0.1
# Mean squared latent error of the fitted layout's frame above which the anchor stays off: in-distribution starting
# frames measure 0.0005-0.0024, an occluder bar 0.05-0.06 (experiments/default/results.md, "Object anchor").
MAX_MSE = 0.01
SEPARATE_ITERS = 4


class Anchor(NamedTuple):
    """Per episode (leaves with leading batch axes M): on (M,) bool, present (M, C) bool, radius (M, C), xy and
    prev (M, C, 2) the current and previous centres, world units."""

    on: jax.Array
    present: jax.Array
    radius: jax.Array
    xy: jax.Array
    prev: jax.Array


def off(batch: tuple[int, ...], num_colours: int) -> Anchor:
    """An anchor that does nothing (for episodes or models without one)."""
    z = jnp.zeros(batch + (num_colours,), jnp.float32)
    return Anchor(on=jnp.zeros(batch, bool), present=jnp.zeros(batch + (num_colours,), bool), radius=z,
                  xy=jnp.zeros(batch + (num_colours, 2), jnp.float32), prev=jnp.zeros(batch + (num_colours, 2)))


def fit(render: LayoutRenderer, z, present, xy0, radius0, steps: int, lr: float, radius: bool = False):
    """Centres (M, C, 2) (and radii (M, C) if radius) whose rendered frame is nearest z (M, g, g, D) in squared
    error, by `steps` Adam steps from xy0 / radius0 -> (xy, radius)."""
    opt = optax.adam(lr)

    def loss(p):
        return jnp.sum((render(Layout(present, p[0], p[1] if radius else radius0)) - z) ** 2)

    def body(carry, _):
        p, s = carry
        updates, s = opt.update(jax.grad(loss)(p), s, p)
        return (optax.apply_updates(p, updates), s), None

    p = (jnp.asarray(xy0, jnp.float32), jnp.asarray(radius0, jnp.float32))
    ((xy, r), _), _ = jax.lax.scan(body, (p, opt.init(p)), None, length=steps)
    return xy, (r if radius else p[1])


def separate(present, xy, radius, iters: int = SEPARATE_ITERS):
    """Push overlapping present balls apart (each by half the overlap, along the centre line; a few Jacobi sweeps)
    and keep every ball inside the box [r, 1 - r]^2 -> xy (M, C, 2)."""
    c = xy.shape[-2]
    pairs = present[..., :, None] & present[..., None, :] & ~jnp.eye(c, dtype=bool)
    for _ in range(iters):
        d = xy[..., :, None, :] - xy[..., None, :, :]  # (M, C, C, 2): i minus j
        dist = jnp.sqrt(jnp.sum(d**2, -1) + 1e-12)
        over = jnp.where(pairs, jnp.maximum(radius[..., :, None] + radius[..., None, :] - dist, 0.0), 0.0)
        xy = xy + jnp.sum(0.5 * over[..., None] * d / dist[..., None], -2)
        xy = jnp.clip(xy, radius[..., None], 1.0 - radius[..., None])
    return xy


def start(render: LayoutRenderer, z, present_logit, pos, z_prev=None) -> Anchor:
    """The anchor of episodes whose last given latent frame is z (M, g, g, D), with the state head's presence
    logits (M, C) and centres (M, C, 2) of that frame; z_prev: the frame before it (None: none, the balls start
    at rest as far as the anchor knows)."""
    present = present_logit > 0
    xy, radius = fit(render, z, present, pos, jnp.full(present.shape, START_RADIUS), START_STEPS, START_LR, True)
    mse = jnp.mean((render(Layout(present, xy, radius)) - z) ** 2, axis=(1, 2, 3))
    prev = xy if z_prev is None else fit(render, z_prev, present, xy, radius, FIT_STEPS, START_LR)[0]
    return Anchor(on=(mse < MAX_MSE) & present.any(-1), present=present, radius=radius, xy=xy, prev=prev)


def hold(render: LayoutRenderer, anchor: Anchor, z) -> tuple[jax.Array, Anchor]:
    """A sampled latent frame z (M, g, g, D) -> (the frame its anchored layout draws, the anchor moved on).
    Episodes whose anchor is off keep z and their anchor."""
    guess = 2 * anchor.xy - anchor.prev  # each ball moved on at its last displacement
    xy, _ = fit(render, z, anchor.present, guess, anchor.radius, FIT_STEPS, FIT_LR)
    xy = separate(anchor.present, xy, anchor.radius)
    drawn = render(Layout(anchor.present, xy, anchor.radius))
    on = anchor.on
    z = jnp.where(on[:, None, None, None], drawn, z)
    return z, anchor._replace(xy=jnp.where(on[:, None, None], xy, anchor.xy),
                              prev=jnp.where(on[:, None, None], anchor.xy, anchor.prev))
