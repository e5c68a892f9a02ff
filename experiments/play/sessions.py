"""How many play sessions one server holds, and at what frame rate: N WebSocket clients on loopback, each playing
a ground-truth example scene for a fixed time (no browser: frames are received and counted, not drawn), plus the
server process's memory before and after.

    python experiments/play/sessions.py --model default --sessions 1,4,8,20 --seconds 10

Prints a markdown table (frames/s per session and in all, step latency, memory) for results.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from playtools import Client, rss_mb  # noqa: E402

import worldsim as ws  # noqa: E402
from worldsim import play  # noqa: E402


async def one(http, url: str, seconds: float, seed: int) -> dict:
    c = await Client.open(http, url)
    await c.wait("hello")
    await c.example_reset("push", seed)
    await c.wait("state", started=True)
    await c.send("start")
    await c.wait("state", running=True)
    t0, frames, ms = time.monotonic(), 0, []
    while time.monotonic() - t0 < seconds:
        m = await c.next(timeout=60)
        if m and m["type"] == "frame":
            frames += 1
            ms.append(m["ms"])
        elif m and m["type"] == "error":
            raise RuntimeError(m["message"])
    elapsed = time.monotonic() - t0
    await c.ws.close()
    return {"fps": frames / elapsed, "ms": sorted(ms)[len(ms) // 2] if ms else float("nan")}


async def wave(url: str, n: int, seconds: float) -> list[dict]:
    async with aiohttp.ClientSession() as http:
        return await asyncio.gather(*[one(http, url, seconds, 3 + i % 4) for i in range(n)])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="default")
    p.add_argument("--sessions", default="1,4,8,20")
    p.add_argument("--seconds", type=float, default=10.0)
    args = p.parse_args()
    counts = [int(x) for x in args.sessions.split(",")]
    model = ws.WorldModel.random() if args.model == "random" else ws.load(args.model)
    engine = play.Engine(model, play.PlayConfig(port=0, max_sessions=max(counts)))
    engine.warm_up(quiet=True)
    rows = []
    with play.start(engine) as srv:
        base = rss_mb()
        for n in counts:
            r = asyncio.run(wave(srv.url, n, args.seconds))
            fps = [x["fps"] for x in r]
            rows.append((n, min(fps), sum(fps) / n, sum(fps), sorted(x["ms"] for x in r)[n // 2], rss_mb() - base))
            print(f"{n} sessions: {sum(fps) / n:.1f} frames/s each, {sum(fps):.1f} in all", flush=True)
        stats = dict(srv.server.stats)
    print(f"\nmodel {model.source}, {args.seconds:g} s per wave, server stats {stats}\n")
    print("| sessions | frames/s per session (min / mean) | frames/s in all | median step ms | memory growth MB |")
    print("| --- | --- | --- | --- | --- |")
    for n, lo, mean, total, ms, mem in rows:
        print(f"| {n} | {lo:.1f} / {mean:.1f} | {total:.1f} | {ms:.1f} | {mem:.0f} |")


if __name__ == "__main__":
    main()
