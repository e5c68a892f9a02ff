"""The page <-> server messages: JSON text frames. `parse` turns one message from the page into a `Command` or
raises `ProtocolError` with a message the page shows as it is (the session stays open).

Page -> server: {"type": ...} with
  reset   {"prompt": str | null, "frames": "none" | "upload" | "example"}   new episode
  example {"world": name, "seed": int}      a ground-truth scene: its caption and first frames (then reset)
  start | pause | step                      run, stop, one step while paused
  push    {"dir": "up" | "down" | "left" | "right"}   push the agent ball (push world; no-op elsewhere)
  branch                                    fork the current state into several futures
  choose  {"index": int}                    continue from one of those futures
  ping
Server -> page: hello, frame, state, example, branches, info, error, closed (see worldsim.play.session).
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

# Push directions as actions: image y grows downward, so "up" is -y. Magnitude 1 = the world's max force.
DIRECTIONS = {"up": (0.0, -1.0), "down": (0.0, 1.0), "left": (-1.0, 0.0), "right": (1.0, 0.0)}
FRAME_SOURCES = ("none", "upload", "example")
SIMPLE = ("start", "pause", "step", "branch", "ping")
TYPES = ("reset", "example", "push", "choose") + SIMPLE


class ProtocolError(ValueError):
    """A message the server cannot act on; `code` names the kind for the page and tests."""

    def __init__(self, message: str, code: str = "bad_message"):
        super().__init__(message)
        self.code = code


class Command(NamedTuple):
    type: str
    args: dict[str, Any]


def _int(value, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ProtocolError(f"'{name}' must be an integer in [{lo}, {hi}], got {value!r}")
    return value


def _prompt(value, max_bytes: int) -> str | None:
    """A prompt: None, or stripped text of at most max_bytes UTF-8 bytes (empty = None)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProtocolError("'prompt' must be a string (or null for none)")
    value = value.strip()
    if not value:
        return None
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise ProtocolError(f"the prompt is {size} bytes; this model reads at most {max_bytes}: shorten it",
                            "too_long")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ProtocolError("the prompt is not valid text (lone surrogates): retype it") from None
    return value


def parse(text, *, max_prompt_bytes: int, worlds: tuple[str, ...], branches: int) -> Command:
    """One text message from the page -> Command (validated), or ProtocolError."""
    if not isinstance(text, str):
        raise ProtocolError("send JSON text messages, not binary ones (uploads go to /api/upload)")
    try:
        msg = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise ProtocolError("this message is not JSON: send {\"type\": ...} objects") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise ProtocolError("a message is a JSON object with a string 'type', e.g. {\"type\": \"start\"}")
    kind = msg["type"]
    if kind not in TYPES:
        raise ProtocolError(f"unknown message type {kind[:40]!r}: use one of {', '.join(TYPES)}", "unknown_type")
    if kind in SIMPLE:
        return Command(kind, {})
    if kind == "reset":
        prompt = _prompt(msg.get("prompt"), max_prompt_bytes)
        frames = msg.get("frames", "none")
        if not isinstance(frames, str) or frames not in FRAME_SOURCES:
            raise ProtocolError(f"'frames' must be one of {', '.join(FRAME_SOURCES)}, got {frames!r}")
        return Command(kind, {"prompt": prompt, "frames": frames})
    if kind == "example":
        world = msg.get("world")
        if not isinstance(world, str) or world not in worlds:
            raise ProtocolError(f"unknown world {world!r}: use one of {', '.join(worlds)}")
        return Command(kind, {"world": world, "seed": _int(msg.get("seed", 0), "seed", 0, 2**31 - 1)})
    if kind == "push":
        d = msg.get("dir")
        if not isinstance(d, str) or d not in DIRECTIONS:
            raise ProtocolError(f"unknown action {str(d)[:40]!r}: push with dir up, down, left or right",
                                "unknown_action")
        return Command(kind, {"dir": d})
    return Command(kind, {"index": _int(msg.get("index"), "index", 0, branches - 1)})  # choose


def dumps(kind: str, **fields) -> str:
    """A server -> page message."""
    return json.dumps({"type": kind, **fields}, separators=(",", ":"), allow_nan=False)
