"""Event-driven rigid-ball physics, exact between events: pure JAX, one unbatched state (vmap for batches).

Within a frame every ball moves on an exact parabola (x + v t + g t^2 / 2, the same g for all balls), so the
relative motion of any pair is linear and wall contacts solve a quadratic. The loop finds the earliest contact,
advances everything to it, resolves it with an impulse and repeats until the frame interval is used up. Nothing is
approximated by sub-stepping, so energy and momentum are conserved to float32 rounding.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from worldsim.worlds.state import BallState

_NEVER = jnp.inf


def _first_wall_contact(gap: jax.Array, u: jax.Array, alpha: jax.Array) -> jax.Array:
    """Earliest t >= 0 with u t + alpha t^2 / 2 = gap (moving toward the wall); inf if none.

    gap: distance to the wall (clipped at 0: a ball already touching collides now if it moves in);
    u: velocity toward the wall; alpha: acceleration toward the wall.
    The form 2 gap / (u + sqrt(u^2 + 2 alpha gap)) is the smaller root, stable when alpha ~ 0.
    """
    gap = jnp.maximum(gap, 0.0)
    disc = u * u + 2.0 * alpha * gap
    denom = u + jnp.sqrt(jnp.maximum(disc, 0.0))
    ok = (disc >= 0.0) & (denom > 1e-9)
    return jnp.where(ok, 2.0 * gap / jnp.where(ok, denom, 1.0), _NEVER)


def wall_times(s: BallState) -> jax.Array:
    """(K, 2 axes, 2 sides) time until each ball meets the low (0) / high (1) wall on each axis."""
    r = s.radius[:, None]  # (K,1)
    acc = jnp.broadcast_to(s.gravity, s.pos.shape)  # (K,2)
    low = _first_wall_contact(s.pos - r, -s.vel, -acc)
    high = _first_wall_contact(1.0 - r - s.pos, s.vel, acc)
    t = jnp.stack([low, high], axis=-1)
    return jnp.where(s.present[:, None, None], t, _NEVER)


def pair_times(s: BallState) -> jax.Array:
    """(K, K) time until balls i < j touch while approaching; inf elsewhere (relative motion is linear)."""
    dp = s.pos[None, :, :] - s.pos[:, None, :]  # (K,K,2) p_j - p_i
    dv = s.vel[None, :, :] - s.vel[:, None, :]
    reach = s.radius[:, None] + s.radius[None, :]
    a = jnp.sum(dv * dv, -1)
    b = jnp.sum(dp * dv, -1)
    c = jnp.sum(dp * dp, -1) - reach**2
    disc = b * b - a * c
    approaching = b < 0.0
    # Smaller root of a t^2 + 2 b t + c = 0, written as c / (-b + sqrt(disc)) for stability; overlapping now -> 0.
    denom = -b + jnp.sqrt(jnp.maximum(disc, 0.0))
    t = jnp.where(c <= 0.0, 0.0, c / jnp.where(denom > 0, denom, 1.0))
    k = s.pos.shape[0]
    upper = jnp.triu(jnp.ones((k, k), bool), 1)
    valid = upper & approaching & (disc >= 0.0) & s.present[:, None] & s.present[None, :]
    return jnp.where(valid, t, _NEVER)


def drift(s: BallState, tau: jax.Array) -> BallState:
    """Ballistic motion of present balls for time tau."""
    live = s.present[:, None]
    pos = jnp.where(live, s.pos + s.vel * tau + 0.5 * s.gravity * tau**2, s.pos)
    vel = jnp.where(live, s.vel + s.gravity * tau, s.vel)
    return s._replace(pos=pos, vel=vel)


def _resolve_wall(s: BallState, ball, axis, side, restitution) -> BallState:
    v = s.vel.at[ball, axis].multiply(-restitution)
    # Snap to exact contact: removes the last ulp of penetration so the next search starts clean.
    target = jnp.where(side == 0, s.radius[ball], 1.0 - s.radius[ball])
    p = s.pos.at[ball, axis].set(target)
    return s._replace(pos=p, vel=v)


def _resolve_pair(s: BallState, i, j, restitution) -> BallState:
    n = s.pos[j] - s.pos[i]
    n = n / jnp.maximum(jnp.linalg.norm(n), 1e-12)
    mi, mj = s.mass[i], s.mass[j]
    u = jnp.dot(s.vel[i] - s.vel[j], n)  # > 0 when approaching
    impulse = (1.0 + restitution) * u / (mi + mj)
    v = s.vel.at[i].add(-impulse * mj * n).at[j].add(impulse * mi * n)
    return s._replace(vel=v)


def advance(s: BallState, dt: float, restitution: float, max_events: int) -> tuple[BallState, jax.Array]:
    """Advance one frame interval exactly. Returns the new state and the number of wall contacts in it."""
    k = s.pos.shape[0]
    n_wall = k * 4

    def cond(carry):
        _, remaining, n, _ = carry
        return (remaining > 0.0) & (n < max_events)

    def body(carry):
        st, remaining, n, walls = carry
        times = jnp.concatenate([wall_times(st).reshape(-1), pair_times(st).reshape(-1)])
        idx = jnp.argmin(times)
        t_hit = times[idx]
        hit = t_hit <= remaining
        st = drift(st, jnp.minimum(t_hit, remaining))
        is_wall = idx < n_wall
        ball, axis, side = idx // 4, (idx // 2) % 2, idx % 2
        pair = idx - n_wall
        after_wall = _resolve_wall(st, ball, axis, side, restitution)
        after_pair = _resolve_pair(st, pair // k, pair % k, restitution)
        resolved = jax.tree.map(lambda w, p: jnp.where(is_wall, w, p), after_wall, after_pair)
        st = jax.tree.map(lambda r, o: jnp.where(hit, r, o), resolved, st)
        remaining = jnp.where(hit, remaining - t_hit, 0.0)
        return st, remaining, n + 1, walls + (hit & is_wall)

    init = (s, jnp.asarray(dt, jnp.float32), jnp.int32(0), jnp.int32(0))
    s, remaining, _, walls = jax.lax.while_loop(cond, body, init)
    # Event budget spent (only possible with restitution < 1 resting contacts): finish ballistically, then clamp.
    s = drift(s, remaining)
    r = s.radius[:, None]
    s = s._replace(pos=jnp.clip(s.pos, r, 1.0 - r))
    return s, walls
