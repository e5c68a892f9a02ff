"""The `worldsim play` server (aiohttp): the page, one WebSocket per browser tab, uploads and downloads.

    GET  /                       the page (static/index.html, play.js, play.css)
    GET  /ws                     the tab's session: JSON messages (worldsim.play.protocol)
    POST /api/upload/{token}     raw bytes of an image or short video -> initial frames (decoded in memory)
    GET  /api/download/{token}.mp4|.gif   the session's recorded clip
    GET  /api/health             live sessions and limits

Each connection gets a `Live`: its Session, a bounded queue of commands and one actor task that executes them in
order and, while running, steps the simulator and sends each frame. Model work goes through the Engine's single
model thread. Every limit breach, bad message or failed request is answered with a message that says why; none
stops the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse, urlsplit

from aiohttp import WSMsgType, web

from worldsim import worlds
from worldsim.io.memory import MediaError, decode_media, encode_video
from worldsim.play.engine import Engine
from worldsim.play.protocol import ProtocolError, dumps, parse
from worldsim.play.session import Session, SessionError

log = logging.getLogger("worldsim.play")
STATIC = Path(__file__).parent / "static"
QUEUE = 32  # commands waiting per session; more is a page flooding the server
REAPER = web.AppKey("reaper", asyncio.Task)
MEDIA_TYPES = {"mp4": "video/mp4", "gif": "image/gif"}


class Live:
    """One connected tab."""

    def __init__(self, token: str, ws: web.WebSocketResponse, session: Session):
        self.token, self.ws, self.session = token, ws, session
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=QUEUE)
        self.running = False
        self.last_seen = time.monotonic()
        self.frames_sent = 0
        self.busy: set[str] = set()  # "upload" / "download" while one is in progress: one of each at a time

    async def send(self, kind_or_msg, **fields) -> bool:
        """Send a message; False (and nothing raised) when the socket is already closing."""
        if self.ws.closed:
            return False
        msg = kind_or_msg if isinstance(kind_or_msg, dict) else {"type": kind_or_msg, **fields}
        try:
            await self.ws.send_str(dumps(msg["type"], **{k: v for k, v in msg.items() if k != "type"}))
        except (ConnectionError, RuntimeError):  # the page went away between the check and the write
            return False
        return True

    def state(self) -> dict:
        s = self.session
        return {"type": "state", "running": self.running, "episode": s.episode, "world": s.world, "agent": s.agent,
                "recorded": len(s.recorded), "started": s.state is not None}


def _json_error(status: int, message: str, code: str) -> web.Response:
    return web.json_response({"ok": False, "error": message, "code": code}, status=status)


class PlayServer:
    """PlayServer(engine).app() -> the aiohttp Application."""

    def __init__(self, engine: Engine):
        self.engine, self.cfg = engine, engine.config
        self.live: dict[str, Live] = {}
        self.stats: Counter = Counter()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.cfg.max_upload_bytes, middlewares=[self._host_guard])
        app.add_routes([
            web.get("/", self.index),
            web.get("/ws", self.websocket),
            web.post("/api/upload/{token}", self.upload),
            web.get("/api/download/{token}.{fmt}", self.download),
            web.get("/api/health", self.health),
            web.static("/static", STATIC),
        ])
        app.on_startup.append(self._start_reaper)
        app.on_shutdown.append(self._close_all)
        return app

    # ----- HTTP -----

    @web.middleware
    async def _host_guard(self, request: web.Request, handler):
        """On loopback, answer only requests addressed to loopback: a web page whose own host name is made to
        resolve to 127.0.0.1 (DNS rebinding) would otherwise pass the same-origin check and drive this server."""
        if not self.cfg.exposed:
            try:
                host = urlsplit("//" + (request.host or "")).hostname or ""
            except ValueError:  # not even a host name
                host = request.host or ""
            if host not in ("127.0.0.1", "localhost", "::1"):
                return _json_error(403, f"this server answers to 127.0.0.1 or localhost only, not {host[:60]!r}: "
                                        "open http://127.0.0.1:PORT/ (or start it with --host to expose it)",
                                   "bad_host")
        return await handler(request)

    async def index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "model": self.engine.model.source, "sessions": len(self.live),
                                  "max_sessions": self.cfg.max_sessions, "stats": dict(self.stats)})

    def _find(self, request: web.Request) -> Live | None:
        return self.live.get(request.match_info["token"])

    async def upload(self, request: web.Request) -> web.Response:
        live = self._find(request)
        if live is None:
            return _json_error(404, "no live session with this token: reload the page", "no_session")
        if "upload" in live.busy:
            return _json_error(429, "an upload of this session is still being decoded: wait for it", "busy")
        live.busy.add("upload")
        try:
            return await self._upload(request, live)
        finally:
            live.busy.discard("upload")

    async def _upload(self, request: web.Request, live: Live) -> web.Response:
        limit = self.cfg.max_upload_bytes
        too_big = (f"the upload is larger than the limit of {limit / 2**20:.1f} MB: send a smaller image or a "
                   "shorter clip")
        if request.content_length is not None and request.content_length > limit:
            self.stats["uploads_refused"] += 1
            return _json_error(413, too_big, "too_large")
        try:
            data = await request.read()
        except web.HTTPRequestEntityTooLarge:  # no or a false Content-Length: aiohttp counted the bytes
            self.stats["uploads_refused"] += 1
            return _json_error(413, too_big, "too_large")
        try:
            frames = await self.engine.run_media(decode_media, data, self.engine.resolution,
                                                 self.cfg.max_upload_frames)
        except MediaError as e:
            self.stats["uploads_refused"] += 1
            return _json_error(400, str(e), "bad_media")
        msg = await self.engine.run(live.session.set_upload, frames)
        live.last_seen = time.monotonic()
        await live.send(msg)
        return web.json_response({"ok": True, **msg})

    async def download(self, request: web.Request) -> web.Response:
        live = self._find(request)
        if live is None:
            return _json_error(404, "no live session with this token: reload the page", "no_session")
        fmt = request.match_info["fmt"]
        if fmt not in MEDIA_TYPES:
            return _json_error(404, f"downloads are .mp4 or .gif, not .{fmt[:10]}", "bad_format")
        try:
            frames = live.session.clip()
        except SessionError as e:
            return _json_error(409, str(e), e.code)
        if "download" in live.busy:
            return _json_error(429, "a download of this session is still being prepared: wait for it", "busy")
        live.busy.add("download")
        try:
            data = await self.engine.run_media(encode_video, frames, fmt, 1.0 / self.engine.dt,
                                               self.cfg.download_scale)
        except Exception as e:  # noqa: BLE001 - the encoder failed (a missing ffmpeg, a timeout): say so
            log.exception("session %s: encoding a download failed", live.token[:6])
            return _json_error(503, f"could not encode the clip ({type(e).__name__}: {e})"[:300], "encode_failed")
        finally:
            live.busy.discard("download")
        self.stats["downloads"] += 1
        return web.Response(body=data, content_type=MEDIA_TYPES[fmt], headers={
            "Content-Disposition": f'attachment; filename="worldsim_play_{live.session.episode}.{fmt}"'})

    # ----- WebSocket -----

    def _same_origin(self, request: web.Request) -> bool:
        """A page from another site must not drive this server through the visitor's browser."""
        origin = request.headers.get("Origin")
        return origin is None or urlparse(origin).netloc == request.host

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        if not self._same_origin(request):
            return _json_error(403, "WebSocket connections are accepted from this server's own page only",
                               "bad_origin")
        ws = web.WebSocketResponse(max_msg_size=self.cfg.max_message_bytes, heartbeat=30.0)
        await ws.prepare(request)
        if len(self.live) >= self.cfg.max_sessions:
            self.stats["refused_full"] += 1
            await ws.send_str(dumps("error", code="full", message=(
                f"this server already runs its maximum of {self.cfg.max_sessions} sessions: close another tab and "
                "reload, or start it with a larger --max-sessions")))
            await ws.close(code=1013, message=b"server full")
            return ws
        token = secrets.token_urlsafe(16)
        seed = secrets.randbits(31) if self.cfg.seed is None else self.cfg.seed
        live = Live(token, ws, Session(self.engine, seed))
        self.live[token] = live
        self.stats["sessions_opened"] += 1
        actor = asyncio.create_task(self._actor(live))
        actor.add_done_callback(lambda task: self._actor_done(live, task))
        try:
            await live.send("hello", session=token, model=self.engine.model.source,
                            resolution=self.engine.resolution, worlds=list(self.engine.world_names),
                            colours=list(worlds.COLOUR_NAMES), fps=1.0 / self.engine.dt,
                            limits={k: getattr(self.cfg, k) for k in (
                                "max_sessions", "idle_timeout_s", "max_upload_bytes", "max_upload_frames",
                                "max_clip_frames", "max_message_bytes", "branches", "branch_frames")})
            async for msg in ws:
                live.last_seen = time.monotonic()
                if msg.type == WSMsgType.TEXT:
                    await self._receive(live, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    self.stats["bad_messages"] += 1
                    await live.send("error", code="bad_message", message=(
                        "binary messages are not read here: send JSON text (uploads go to /api/upload)"))
                elif msg.type == WSMsgType.ERROR:  # e.g. a message over max_msg_size: aiohttp closes with 1009
                    self.stats["socket_errors"] += 1
                    log.info("session %s: %s", token[:6], ws.exception())
                    break
        finally:
            self.live.pop(token, None)
            actor.cancel()
            await asyncio.gather(actor, return_exceptions=True)
        return ws

    def _actor_done(self, live: Live, task: asyncio.Task) -> None:
        """An actor ends with its socket; one that died otherwise is a bug: log it and close the socket, so the
        page says the connection closed instead of queueing commands nobody runs."""
        if task.cancelled() or live.ws.closed:
            return
        log.error("session %s: its actor stopped (%r); closing the socket", live.token[:6], task.exception())
        self.stats["internal_errors"] += 1
        asyncio.ensure_future(live.ws.close(code=1011, message=b"internal error"))

    async def _receive(self, live: Live, text: str) -> None:
        try:
            cmd = parse(text, max_prompt_bytes=self.engine.model.max_text_bytes, worlds=self.engine.world_names,
                        branches=self.cfg.branches)
        except ProtocolError as e:
            self.stats["bad_messages"] += 1
            await live.send("error", code=e.code, message=str(e))
            return
        except Exception as e:  # noqa: BLE001 - a parser bug must not drop the connection
            log.exception("session %s: parsing a message failed", live.token[:6])
            self.stats["internal_errors"] += 1
            await live.send("error", code="internal", message=f"could not read this message ({type(e).__name__})")
            return
        if cmd.type == "ping":
            await live.send("pong")
            return
        if cmd.type == "pause":  # at once, not behind queued work
            live.running = False
        try:
            live.queue.put_nowait(cmd)
        except asyncio.QueueFull:
            self.stats["bad_messages"] += 1
            await live.send("error", code="flood", message=f"{QUEUE} messages are already waiting: slow down")

    async def _actor(self, live: Live) -> None:
        """Execute the session's commands in order; between them, while running, step and send frames."""
        s = live.session
        while not live.ws.closed:
            cmd = None
            if not live.running:
                cmd = await live.queue.get()
            elif not live.queue.empty():
                cmd = live.queue.get_nowait()
            t0 = time.monotonic()
            try:
                if cmd is None:
                    if await live.send(await self.engine.run(s.step)):
                        live.frames_sent += 1
                        self.stats["frames_sent"] += 1
                    wait = 1.0 / self.cfg.max_fps - (time.monotonic() - t0) if self.cfg.max_fps else 0.0
                    await asyncio.sleep(max(0.0, wait))  # also lets other sessions' messages in
                else:
                    await self._execute(live, cmd)
            except SessionError as e:
                live.running = False
                await live.send("error", code=e.code, message=str(e))
                await live.send(live.state())
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a bug, not bad input: keep serving, tell the page, log the traceback
                log.exception("session %s: %s failed", live.token[:6], cmd.type if cmd else "step")
                self.stats["internal_errors"] += 1
                live.running = False
                await live.send("error", code="internal", message=f"internal error ({type(e).__name__}: {e})"[:300])
                await live.send(live.state())

    async def _execute(self, live: Live, cmd) -> None:
        s, run, a = live.session, self.engine.run, cmd.args
        if cmd.type == "reset":
            await live.send(await run(s.reset, a["prompt"], a["frames"]))
        elif cmd.type == "example":
            await live.send(await run(s.example, a["world"], a["seed"]))
        elif cmd.type == "pause":  # again here: a start queued before this pause must not win
            live.running = False
        elif cmd.type == "start":
            if s.state is None:
                raise SessionError("nothing to run yet: press reset (with a prompt, an upload or an example) first")
            live.running = True
        elif cmd.type == "step":
            if not live.running:
                await live.send(await run(s.step))
        elif cmd.type == "push":
            reply = await run(s.push, a["dir"])
            if reply:
                await live.send(reply)
            return
        elif cmd.type == "branch":
            live.running = False
            await live.send(await run(s.branch))
        elif cmd.type == "choose":
            await live.send(await run(s.choose, a["index"]))
        await live.send(live.state())

    # ----- lifetime -----

    async def _start_reaper(self, app: web.Application) -> None:
        app[REAPER] = asyncio.create_task(self._reap())

    async def _reap(self) -> None:
        """Close sessions whose page has sent nothing for idle_timeout_s."""
        timeout = self.cfg.idle_timeout_s
        while True:
            await asyncio.sleep(min(1.0, timeout / 4))
            now = time.monotonic()
            for live in [v for v in self.live.values() if now - v.last_seen > timeout and not v.ws.closed]:
                self.stats["idle_closed"] += 1
                live.running = False
                live.last_seen = math.inf  # closing: not again
                asyncio.ensure_future(self._close_idle(live, timeout))  # one slow peer must not hold up the rest

    async def _close_idle(self, live: Live, timeout: float) -> None:
        try:
            await live.send("closed", code="idle", message=(
                f"this session was idle for {timeout:g} s and has been closed to free the server: reload the page "
                "to start again"))
            await live.ws.close(code=1000, message=b"idle")
        except Exception:  # noqa: BLE001 - the peer is gone already
            log.info("session %s: closing an idle socket failed", live.token[:6], exc_info=True)

    async def _close_all(self, app: web.Application) -> None:
        app[REAPER].cancel()
        for live in list(self.live.values()):
            await live.send("closed", code="shutdown", message="the server is shutting down")
            await live.ws.close(code=1001, message=b"server shutdown")


class Running:
    """A server started by `start` on a background thread: .url, .port, .server, .stop()."""

    def __init__(self, server: PlayServer, url: str, port: int, loop, runner, thread):
        self.server, self.url, self.port = server, url, port
        self._loop, self._runner, self._thread = loop, runner, thread

    def stop(self) -> None:
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
        self.server.engine.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


async def _bind(server: PlayServer) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(server.app(), handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, server.cfg.host, server.cfg.port)
    await site.start()
    port = runner.addresses[0][1]
    return runner, port


def url_for(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return f"http://[{shown}]:{port}/" if ":" in shown else f"http://{shown}:{port}/"


def start(engine: Engine) -> Running:
    """Serve on a background thread (tests, notebooks); returns once the port is bound."""
    server = PlayServer(engine)
    loop = asyncio.new_event_loop()
    ready: dict = {}
    bound = threading.Event()

    def main():
        asyncio.set_event_loop(loop)
        try:
            ready["runner"], ready["port"] = loop.run_until_complete(_bind(server))
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            ready["error"] = e
            bound.set()
            return
        bound.set()
        loop.run_forever()
        loop.close()

    thread = threading.Thread(target=main, name="worldsim-play", daemon=True)
    thread.start()
    bound.wait()
    if "error" in ready:
        raise ready["error"]
    port = ready["port"]
    return Running(server, url_for(engine.config.host, port), port, loop, ready["runner"], thread)


def serve(engine: Engine, log_fn=print) -> None:
    """Serve in the foreground until Ctrl+C (SIGINT)."""
    if threading.current_thread() is threading.main_thread():
        # A shell starts a background job (`worldsim play &` in a script) with SIGINT ignored, and Python keeps it
        # ignored: Ctrl+C or `kill -INT` would then never stop the server. Take SIGINT back explicitly.
        signal.signal(signal.SIGINT, signal.default_int_handler)

    async def main():
        runner, port = await _bind(PlayServer(engine))
        log_fn(f"worldsim play: open {url_for(engine.config.host, port)} in a browser (Ctrl+C stops)")
        sys.stdout.flush()  # the URL is the one line a wrapper script waits for
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    engine.close()
