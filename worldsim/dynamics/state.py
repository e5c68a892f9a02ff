"""Physics-aware readout: per colour slot, is the ball there, where is it and how fast does it move (world units).

Targets are indexed by colour, not by the world's ball slot: colour is what the pixels (and so the latents) show,
and the worlds give every ball a distinct colour, so the colour slot is a well-defined name for a ball.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from worldsim.data.states import states_by_colour  # noqa: F401  (re-exported beside the state head)
from worldsim.dynamics.config import DynamicsConfig
from worldsim.dynamics.layers import Mlp
from worldsim.dynamics.layout import offsets, other_pairs


class StatePred(NamedTuple):
    present_logit: jax.Array  # (..., C)
    pos: jax.Array  # (..., C, 2) world units
    vel: jax.Array  # (..., C, 2) world units / s


class StateHead(nnx.Module):
    """h (..., N, d) -> StatePred. One learned query per colour slot attends over the frame's tokens: a ball lives
    in one or two tokens, and attention pooling lets each slot find its own instead of averaging it away."""

    def __init__(self, cfg: DynamicsConfig, *, rngs: nnx.Rngs):
        d = cfg.d_model
        self.heads = cfg.num_heads
        self.queries = nnx.Param(nnx.initializers.normal(1.0)(rngs.params(), (cfg.num_colours, d)))
        self.norm = nnx.RMSNorm(d, rngs=rngs)
        self.k = nnx.Linear(d, d, use_bias=False, rngs=rngs)
        self.v = nnx.Linear(d, d, use_bias=False, rngs=rngs)
        self.mlp = Mlp(d, 2 * d, rngs=rngs)
        self.out = nnx.Linear(d, 5, rngs=rngs)

    def pool(self, h, queries) -> jax.Array:
        """Attention pooling of h (..., N, d) by per-colour queries (C, d) -> (..., C, d)."""
        x = self.norm(h)
        split = lambda a: a.reshape(a.shape[:-1] + (self.heads, -1))  # noqa: E731
        q, k, v = split(queries), split(self.k(x)), split(self.v(x))  # q (C, H, hd), k/v (..., N, H, hd)
        w = jax.nn.softmax(jnp.einsum("chd,...nhd->...hcn", q, k) / jnp.sqrt(jnp.float32(q.shape[-1])), axis=-1)
        return jnp.einsum("...hcn,...nhd->...chd", w, v).reshape(h.shape[:-2] + queries.shape)

    def __call__(self, h) -> StatePred:
        pooled = self.pool(h, self.queries[...])
        y = self.out(pooled + self.mlp(pooled))
        return StatePred(present_logit=y[..., 0], pos=y[..., 1:3], vel=y[..., 3:5])


class MotionHead(nnx.Module):
    """h_t (..., N, d) -> (..., C, 2): each colour's mean velocity over the coming frame, (pos_{t+1} - pos_t) / dt
    in world units / s: the trunk's own prediction of the next move, under the action h_t has seen.

    The state head reads the velocity of frame t, which a push during the coming frame does not change yet, and
    which misses a bounce or gravity's pull within it; this head is trained for the move itself (experiments/default/
    train_motion_head.py, on the frozen trunk). It pools with its own queries through the state head's keys and
    values (small: the shipped weights have a size budget), and reads the change from the state head's velocity of
    frame t (its output starts at zero, so an untrained head reads v_t).

    With cfg.motion_layout it also reads the balls the anchor holds (anchor.Anchor's present, xy, radius, move,
    known): each ball's centre, radius, gaps to the walls and last move, and, summed over its neighbours, what a
    small pairwise network makes of their offset, gap and relative move. Where the last move is known it reads the
    change from it instead of v_t: in free flight the move does not change, and a reading of it from the hidden
    state carries an error every frame that the anchor feeds back (experiments/default/results.md, "Motion head
    with the layout")."""

    def __init__(self, cfg: DynamicsConfig, *, rngs: nnx.Rngs):
        d = cfg.d_model
        self.queries = nnx.Param(nnx.initializers.normal(1.0)(rngs.params(), (cfg.num_colours, d)))
        self.action = nnx.Linear(cfg.action_dim, d, rngs=rngs)
        self.mlp = Mlp(d, d, rngs=rngs)
        self.out = nnx.Linear(d, 2, kernel_init=nnx.initializers.zeros, rngs=rngs)
        self.uses_layout = cfg.motion_layout
        if cfg.motion_layout:
            self.ball = nnx.Linear(BALL_FEATURES, d, rngs=rngs)
            self.pair_in = nnx.Linear(PAIR_FEATURES, PAIR_WIDTH, rngs=rngs)
            self.pair_out = nnx.Linear(PAIR_WIDTH, d, rngs=rngs)
        # how much of its change a ball takes: a gate can close fully in free flight, where an ungated change keeps
        # a little of the hidden state's noise, and the anchor adds that up frame by frame
        self.gate = (nnx.Linear(d, 1, bias_init=nnx.initializers.constant(GATE_BIAS), rngs=rngs) if cfg.motion_gate
                     else None)

    def __call__(self, h, state_head: StateHead, action=None, balls=None) -> jax.Array:
        """action (..., A): a_t, the action of the coming frame (None = none). balls: the anchor's layout of frame t
        (an anchor.Anchor, leaves (..., C[, 2]) and known (...)); needed exactly when the head reads it."""
        if self.uses_layout != (balls is not None):
            raise ValueError("this motion head reads the anchor's balls (DynamicsConfig.motion_layout): pass balls"
                             if self.uses_layout else "this motion head has no layout input: pass balls=None")
        x = state_head.pool(h, self.queries[...])
        if action is not None:  # given again here: in the trunk it is one input among many, six layers down
            x = x + self.action(jnp.asarray(action, x.dtype))[..., None, :]
        base = state_head(h).vel
        if balls is not None:
            ball, pair, mask = layout_features(balls)
            msg = self.pair_out(jax.nn.gelu(self.pair_in(pair)))  # (..., C, C, d): what neighbour j means to i
            x = x + self.ball(ball) + jnp.sum(jnp.where(mask[..., None], msg, 0.0), axis=-2)
            base = jnp.where(balls.known[..., None, None], balls.move, base)
        change = self.out(x + self.mlp(x))
        return base + (change if self.gate is None else jax.nn.sigmoid(self.gate(x)) * change)


BALL_FEATURES, PAIR_FEATURES, PAIR_WIDTH = 10, 6, 32
GATE_BIAS = 3.0  # a new gate starts open (0.95)


def layout_features(balls):
    """The motion head's layout inputs, scaled to about unit size: per ball (..., C, BALL_FEATURES) centre, radius,
    gaps to the four walls, last move (zero where unknown) and whether it is known; per pair (..., C, C,
    PAIR_FEATURES) offset, gap between the surfaces, relative last move and whether it is known; and which pairs are
    two different present balls (..., C, C)."""
    xy, r = balls.xy, balls.radius[..., None]
    known = balls.known[..., None, None].astype(xy.dtype)
    move = balls.move * known
    k = jnp.broadcast_to(known, r.shape)
    ball = jnp.concatenate([xy - 0.5, 10.0 * r, 10.0 * (xy - r), 10.0 * (1.0 - xy - r), move, k], axis=-1)
    off, dist = offsets(xy)  # (..., C, C, 2): i minus j
    gap = dist[..., None] - r[..., :, None, :] - r[..., None, :, :]
    rel = move[..., :, None, :] - move[..., None, :, :]
    pair = jnp.concatenate([5.0 * off, 10.0 * gap, rel, jnp.broadcast_to(known[..., None], gap.shape)], axis=-1)
    return ball, pair, other_pairs(balls.present)


def state_loss(pred: StatePred, target_pos, target_vel, target_present) -> tuple[jax.Array, dict]:
    """BCE on presence + MSE on position and velocity of present colour slots only. Returns (loss, parts)."""
    present = target_present.astype(jnp.float32)
    bce = jnp.mean(optax.sigmoid_binary_cross_entropy(pred.present_logit, present))
    count = jnp.maximum(jnp.sum(present) * 2.0, 1.0)  # present slots x 2 coordinates

    def masked_mse(a, b):
        return jnp.sum(present[..., None] * (a - b) ** 2) / count

    pos = masked_mse(pred.pos, target_pos)
    vel = masked_mse(pred.vel, target_vel)
    return bce + pos + vel, {"state_bce": bce, "state_pos_mse": pos, "state_vel_mse": vel}


def motion_targets(pos, present, dt: float):
    """Per-colour states of consecutive frames (..., T, C, 2) / (..., T, C) -> the mean velocity over each coming
    frame (..., T - 1, C, 2) and where it is defined (the ball is there in both frames) (..., T - 1, C)."""
    return (pos[..., 1:, :, :] - pos[..., :-1, :, :]) / dt, present[..., 1:, :] & present[..., :-1, :]


def motion_loss(pred, target, mask, robust: bool = False) -> jax.Array:
    """Mean squared error of predicted mean velocities (..., C, 2) over the masked (..., C) slots; robust: the mean
    Euclidean error instead, whose minimiser commits to the likelier move (a bounce or none) where the squared
    error's hedges between them, and a hedge fed back through a rollout bends free flight."""
    m = mask.astype(jnp.float32)
    if robust:
        err = jnp.sqrt(jnp.sum((pred - target) ** 2, -1) + 1e-8)
        return jnp.sum(m * err) / jnp.maximum(jnp.sum(m), 1.0)
    return jnp.sum(m[..., None] * (pred - target) ** 2) / jnp.maximum(jnp.sum(m) * 2.0, 1.0)
