"""Helpers for the play tests: a server on a background thread and a small WebSocket client."""

from __future__ import annotations

import asyncio
import json
import os
import time

import aiohttp


def rss_mb() -> float:
    """This process's resident memory, MB (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class Client:
    """One page's WebSocket: send JSON commands, wait for a message of some type."""

    def __init__(self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse):
        self.http, self.ws = http, ws
        self.seen: list[dict] = []
        self.hello: dict | None = None

    @classmethod
    async def open(cls, http, url: str, **kw) -> "Client":
        c = cls(http, await http.ws_connect(url.replace("http", "ws", 1) + "ws", **kw))
        return c

    async def send(self, kind: str, **fields) -> None:
        await self.ws.send_str(json.dumps({"type": kind, **fields}))

    async def next(self, timeout: float = 60.0) -> dict | None:
        """The next message (None when the socket closed)."""
        msg = await self.ws.receive(timeout=timeout)
        if msg.type != aiohttp.WSMsgType.TEXT:
            return None
        data = json.loads(msg.data)
        self.seen.append(data)
        if data["type"] == "hello":
            self.hello = data
        return data

    async def example_reset(self, world: str, seed: int) -> dict:
        """Load a ground-truth example scene and reset to it (its caption and frames); returns the example message.
        The reset's frame and state follow."""
        await self.send("example", world=world, seed=seed)
        ex = await self.wait("example")
        await self.send("reset", prompt=ex["prompt"], frames="example")
        return ex

    async def wait(self, kind: str, timeout: float = 60.0, **match) -> dict:
        """Read until a message of this type (whose fields equal `match`) arrives."""
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            m = await self.next(left)
            if m is None:
                raise AssertionError(f"socket closed while waiting for {kind}; seen {[x['type'] for x in self.seen]}")
            if m["type"] == kind and all(m.get(k) == v for k, v in match.items()):
                return m
        raise AssertionError(f"no {kind} message within {timeout} s; seen {[x['type'] for x in self.seen[-10:]]}")


def run(coro):
    return asyncio.run(coro)
