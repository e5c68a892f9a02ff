"""Deterministic captions from an initial state, and the structured facts behind them (for evaluation)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from worldsim.worlds.palette import COLOUR_NAMES

NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six")
SIZE_EDGES = (0.073, 0.087)  # radius thresholds (world units): small < 0.073 <= medium < 0.087 <= large
SPEED_EDGES = (0.05, 0.45, 0.9)  # below 0.05: at rest; slow < 0.45; fast >= 0.9 (world units / s)
DIRECTIONS = ("right", "down-right", "down", "down-left", "left", "up-left", "up", "up-right")  # y grows downward
_ROWS = ("top", "middle", "bottom")
_COLS = ("left", "center", "right")


def size_word(r: float) -> str:
    return "small" if r < SIZE_EDGES[0] else ("medium" if r < SIZE_EDGES[1] else "large")


def region_word(x: float, y: float) -> str:
    row, col = _ROWS[min(int(y * 3), 2)], _COLS[min(int(x * 3), 2)]
    if row == "middle" and col == "center":
        return "center"
    if row == "middle":
        return col
    if col == "center":
        return row
    return f"{row} {col}"


def direction_word(vx: float, vy: float) -> str:
    angle = math.atan2(vy, vx)  # 0 = right, pi/2 = down (image y)
    return DIRECTIONS[int(round(angle / (math.pi / 4))) % 8]


def ball_facts(pos, vel, radius, colour) -> dict[str, Any]:
    speed = float(np.hypot(*vel))
    facts = {
        "colour": COLOUR_NAMES[int(colour)],
        "size": size_word(float(radius)),
        "region": region_word(float(pos[0]), float(pos[1])),
        "x": float(pos[0]),
        "y": float(pos[1]),
        "radius": float(radius),
        "speed": speed,
        "direction": None if speed < SPEED_EDGES[0] else direction_word(float(vel[0]), float(vel[1])),
    }
    facts["pace"] = (
        "still" if speed < SPEED_EDGES[0] else "slow" if speed < SPEED_EDGES[1] else "fast" if speed >= SPEED_EDGES[2] else ""
    )
    return facts


def _describe(b: dict[str, Any]) -> str:
    text = f"a {b['size']} {b['colour']} ball "
    text += "in the center" if b["region"] == "center" else f"at the {b['region']}"
    if b["direction"] is None:
        return text + " at rest"
    pace = {"slow": " slowly", "fast": " quickly"}.get(b["pace"], "")
    return text + f" moving {b['direction']}{pace}"


def describe(world: str, s0: dict[str, np.ndarray], gravity: float, controllable: bool) -> tuple[str, dict]:
    """Caption and facts for one clip from its initial state (numpy arrays of one episode: pos (K,2) ...)."""
    idx = [k for k in range(len(s0["present"])) if s0["present"][k]]
    balls = [ball_facts(s0["pos"][k], s0["vel"][k], s0["radius"][k], s0["colour"][k]) for k in idx]
    n = len(balls)
    noun = "ball" if n == 1 else "balls"
    if gravity > 0:
        head = f"{NUMBER_WORDS[n].capitalize()} {noun} under gravity"
    elif controllable:
        head = f"{NUMBER_WORDS[n].capitalize()} {noun}, you push the {balls[0]['colour']} one"
    else:
        head = f"{NUMBER_WORDS[n].capitalize()} bouncing {noun}"
    caption = head + ": " + ", ".join(_describe(b) for b in balls) + "."
    facts = {
        "world": world,
        "count": n,
        "colours": [b["colour"] for b in balls],
        "balls": balls,
        "gravity": float(gravity),
        "controlled": balls[0]["colour"] if controllable else None,
    }
    return caption, facts
