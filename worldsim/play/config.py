"""`PlayConfig`: the limits and settings of a `worldsim play` server (frozen; `tiny()` for tests)."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r}: use an integer >= 1")


@dataclass(frozen=True)
class PlayConfig:
    """host/port: where the server listens (port 0 = any free port). Loopback unless host says otherwise.

    Every limit protects the machine from one tab (or one stranger, when exposed): live sessions, how long a
    session may sit without a message from its page, upload size and frame count, the frames a session records
    (its downloadable clip), and the largest WebSocket message the server reads.
    """

    host: str = "127.0.0.1"
    port: int = 8765
    max_sessions: int = 20  # live sessions (one per browser tab); they share the CPU
    idle_timeout_s: float = 600.0  # a session with no message from its page for this long is closed
    max_upload_bytes: int = 8 * 2**20  # an image or a short video
    max_upload_frames: int = 64  # a longer upload is refused (trim it); the last `context_frames` are used
    context_frames: int = 8  # initial frames given to the model (its attention window)
    max_clip_frames: int = 1800  # frames a session records; at the cap it pauses (download or reset)
    max_message_bytes: int = 64 * 2**10  # WebSocket messages from the page (prompts are <= 384 bytes)
    max_fps: float = 0.0  # 0 = step at the model's own speed; > 0 caps each session's frame rate
    branches: int = 4  # futures shown by the branch button
    branch_frames: int = 16  # frames per future
    download_scale: int = 4  # downloads are upscaled (nearest) from the model's resolution by this factor
    seed: int | None = None  # None: every session samples its own randomness; an int: sessions repeat (tests)

    def __post_init__(self):
        if not isinstance(self.host, str) or not self.host:
            raise ValueError(f"host={self.host!r}: use an address such as 127.0.0.1 (loopback) or 0.0.0.0 (all)")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ValueError(f"port={self.port!r}: use an integer in [0, 65535] (0 = any free port)")
        for name in ("max_sessions", "max_upload_bytes", "max_upload_frames", "context_frames", "max_clip_frames",
                     "max_message_bytes", "branches", "branch_frames", "download_scale"):
            _positive_int(name, getattr(self, name))
        if not (isinstance(self.idle_timeout_s, (int, float)) and 0 < self.idle_timeout_s < math.inf):
            raise ValueError(f"idle_timeout_s={self.idle_timeout_s!r}: use a positive number of seconds")
        if not (isinstance(self.max_fps, (int, float)) and 0 <= self.max_fps < math.inf):
            raise ValueError(f"max_fps={self.max_fps!r}: use 0 (the model's own speed) or a positive cap")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)
                                      or not 0 <= self.seed < 2**31):
            raise ValueError(f"seed={self.seed!r}: use None (random sessions) or an integer in [0, 2**31)")
        if self.branches > 8:
            raise ValueError(f"branches={self.branches}: the page shows at most 8 futures")

    @property
    def exposed(self) -> bool:
        """True when the server listens on more than loopback."""
        if self.host in LOOPBACK:
            return False
        try:
            return not ipaddress.ip_address(self.host).is_loopback
        except ValueError:  # a host name other than localhost
            return True

    @classmethod
    def tiny(cls, **overrides) -> "PlayConfig":
        """Small limits for tests: any free port, short clips, short branches."""
        base = dict(port=0, max_sessions=4, idle_timeout_s=60.0, max_upload_bytes=2**20, max_upload_frames=16,
                    context_frames=4, max_clip_frames=200, branch_frames=4)
        return cls(**{**base, **overrides})
