"""Reference implementations to check worldsim against: a pymunk (Chipmunk2D) engine and a plain numpy renderer.

pymunk is a test/bench extra, so it is imported inside the functions that need it. Chipmunk is a fixed-step
impulse solver (semi-implicit Euler, contacts found after they overlap), unlike worldsim's exact event-driven
physics, so it agrees only to O(substep): `DEFAULT_SUBSTEPS` per frame keeps it well inside 0.1 px at 64x64 on the
crosscheck scenes (measured in experiments/worlds/floors.py). The scene builders here are shared by
tests/test_pymunk_crosscheck.py and experiments/worlds/floors.py.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from worldsim.worlds import dynamics
from worldsim.worlds.config import WorldConfig
from worldsim.worlds.palette import BACKGROUND, COLOURS, OCCLUDER_GREY
from worldsim.worlds.state import BallState, ball_states

SCALE = 1000.0  # world units -> pymunk units: keeps Chipmunk's absolute tolerances (slop etc.) in its usual range
DEFAULT_SUBSTEPS = 300  # pymunk steps per frame; a bounce leaves up to speed * dt / substeps of position error


def simulate_pymunk(
    state0: BallState,
    num_frames: int,
    dt: float,
    gravity: float,
    restitution: float = 1.0,
    substeps: int = DEFAULT_SUBSTEPS,
    iterations: int = 20,
    leapfrog: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Run one unbatched state (K slots) in pymunk; returns pos, vel (T, K, 2) in world units (absent slots: 0).

    Same scene as worldsim: static walls on the unit box, frictionless circles of the state's radii and masses,
    restitution for ball-wall and ball-ball contacts, gravity `gravity` along +y.
    `leapfrog`: Chipmunk moves each body with its velocity before that substep's gravity kick, so positions lag the
    parabola by g t h / 2 (h = dt / substeps); starting from v0 + g h / 2 makes the scheme exact on free flight
    (measured: 0.01 px -> 3e-5 px before the floor bounce of the parabola scene at 100 substeps).
    """
    import pymunk  # test/bench extra

    h = dt / substeps
    space = pymunk.Space()
    space.gravity = (0.0, gravity * SCALE)
    space.iterations = iterations
    space.collision_slop = 0.0  # no tolerated overlap: contacts resolve at (nearly) exact touching
    space.collision_bias = 0.0  # push any overlap out within one substep (split impulse: adds no energy)
    # Chipmunk multiplies the two shapes' elasticities: sqrt on both sides gives `restitution` for every pair.
    e = float(np.sqrt(restitution))
    # Walls: thick segments just outside the box, long enough that corners are plain wall-wall contacts.
    w = 0.5 * SCALE
    lo, hi = -w, SCALE + w
    for a, b in [((-SCALE, lo), (2 * SCALE, lo)), ((-SCALE, hi), (2 * SCALE, hi)),
                 ((lo, -SCALE), (lo, 2 * SCALE)), ((hi, -SCALE), (hi, 2 * SCALE))]:
        seg = pymunk.Segment(space.static_body, a, b, w)
        seg.elasticity, seg.friction = e, 0.0
        space.add(seg)

    pos0, vel0 = np.asarray(state0.pos, np.float64), np.asarray(state0.vel, np.float64)
    radius, mass, present = np.asarray(state0.radius), np.asarray(state0.mass), np.asarray(state0.present)
    g = np.array([0.0, gravity])
    bodies = {}
    for k in np.flatnonzero(present):
        body = pymunk.Body(float(mass[k]), float("inf"))  # infinite moment: no spin (friction 0 anyway)
        body.position = tuple(pos0[k] * SCALE)
        body.velocity = tuple((vel0[k] + (0.5 * h * g if leapfrog else 0.0)) * SCALE)
        circle = pymunk.Circle(body, float(radius[k]) * SCALE)
        circle.elasticity, circle.friction = e, 0.0
        space.add(body, circle)
        bodies[int(k)] = body

    k_slots = pos0.shape[0]
    pos = np.zeros((num_frames, k_slots, 2))
    vel = np.zeros((num_frames, k_slots, 2))
    v_fix = -0.5 * h * g if leapfrog else 0.0  # stored velocities lead half a substep

    def record(t):
        for k, body in bodies.items():
            pos[t, k] = np.asarray(body.position) / SCALE
            vel[t, k] = np.asarray(body.velocity) / SCALE + v_fix

    record(0)
    for t in range(1, num_frames):
        for _ in range(substeps):
            space.step(h)
        record(t)
    return pos, vel


def render_numpy(pos, radius, colour, present, resolution: int, occluder=None) -> np.ndarray:
    """uint8 (T, H, W, 3): the same anti-aliased image as worlds/render.py, in plain numpy (the bench baseline).

    pos (T, K, 2) world units; radius, colour, present (K,) or (T, K). Coverage = clip(r - d + 1/2, 0, 1) in
    pixels, slot-order compositing over black, opaque occluder last; float32 like the JAX renderer.
    """
    pos = np.asarray(pos, np.float32)
    t_len, k_slots = pos.shape[:2]
    radius = np.broadcast_to(np.asarray(radius, np.float32), (t_len, k_slots))
    colour = np.broadcast_to(np.asarray(colour), (t_len, k_slots))
    present = np.broadcast_to(np.asarray(present, bool), (t_len, k_slots))
    grid = np.arange(resolution, dtype=np.float32)
    img = np.full((t_len, resolution, resolution, 3), BACKGROUND, np.float32)
    for k in range(k_slots):
        if not present[:, k].any():
            continue  # an absent slot adds nothing (the JAX renderer multiplies it by alpha = 0)
        p = pos[:, k] * np.float32(resolution) - np.float32(0.5)  # (T, 2) pixel coordinates
        r = radius[:, k] * np.float32(resolution)
        dx = grid[None, :] - p[:, 0, None]  # (T, W)
        dy = grid[None, :] - p[:, 1, None]  # (T, H)
        d = np.sqrt(dy[:, :, None] ** 2 + dx[:, None, :] ** 2)  # (T, H, W)
        alpha = np.clip(r[:, None, None] - d + np.float32(0.5), 0.0, 1.0)
        alpha = np.where(present[:, k, None, None], alpha, np.float32(0.0))[..., None]
        img *= 1.0 - alpha  # in place: the (T, H, W, 3) image is the largest array here
        img += COLOURS[colour[:, k]][:, None, None, :] * alpha
    if occluder is not None:
        x0, y0, x1, y1 = (c * resolution for c in occluder)
        i = grid
        cx = np.clip(np.minimum(x1, i + 1) - np.maximum(x0, i), 0.0, 1.0)
        cy = np.clip(np.minimum(y1, i + 1) - np.maximum(y0, i), 0.0, 1.0)
        cov = (cy[:, None] * cx[None, :]).astype(np.float32)[..., None]
        img = img * (1.0 - cov) + np.float32(OCCLUDER_GREY) * cov
    return np.round(np.clip(img, 0.0, 1.0) * 255.0).astype(np.uint8)


# --- crosscheck scenes: (WorldConfig, initial BallState), each built to force the contact it is named after ---

def _scene(pos, vel, radius, gravity=0.0, num_frames=32):
    k = len(radius)
    s0 = ball_states(pos, radius, colour=list(range(k)), vel=vel, gravity=[0.0, gravity])
    return WorldConfig(num_frames=num_frames, num_balls=(k, k), gravity=gravity), s0


def scene_wall_bounce():
    """One fast ball, four wall hits; x and y walls are met within half a frame of each other (corner region).

    Speeds chosen so no contact falls on a frame boundary (there the sign of the recorded velocity is a coin toss).
    """
    return _scene([[0.5, 0.5]], [[1.25, 1.17]], [0.08])


def scene_head_on():
    """Two balls of unequal mass (radii 0.06 and 0.10) meeting head-on along y = 0.5."""
    return _scene([[0.25, 0.5], [0.7, 0.5]], [[0.6, 0.0], [-0.4, 0.0]], [0.06, 0.10])


def scene_oblique():
    """Two balls meeting off-centre (impact parameter 0.052, a third of the summed radii)."""
    return _scene([[0.2, 0.42], [0.75, 0.5]], [[0.7, 0.05], [-0.3, 0.0]], [0.07, 0.09])


def scene_parabola():
    """One ball thrown sideways under gravity 1, bouncing once off the floor."""
    return _scene([[0.2, 0.5]], [[0.4, 0.2]], [0.08], gravity=1.0)


SCENES = {"wall_bounce": scene_wall_bounce, "head_on": scene_head_on, "oblique": scene_oblique,
          "parabola": scene_parabola}


def simulate_worldsim(cfg: WorldConfig, s0: BallState) -> BallState:
    """(T, ...) worldsim states of an unbatched initial state, as numpy arrays."""
    actions = jnp.zeros((cfg.num_frames, cfg.action_dim), jnp.float32)
    states, _ = dynamics.simulate(cfg, s0, actions)
    return BallState(*(np.asarray(x) for x in states))


def compare_scene(name: str, resolution: int = 64, **pymunk_kw) -> dict:
    """Run scene `name` in both engines. Returns both trajectories and the max position gap in pixels."""
    cfg, s0 = SCENES[name]()
    ws_states = simulate_worldsim(cfg, s0)
    pm_pos, pm_vel = simulate_pymunk(s0, cfg.num_frames, cfg.dt, cfg.gravity, cfg.restitution, **pymunk_kw)
    gap = np.linalg.norm(ws_states.pos - pm_pos, axis=-1) * resolution  # (T, K) pixels
    return {"worldsim": ws_states, "pymunk_pos": pm_pos, "pymunk_vel": pm_vel, "max_px": float(gap.max())}
