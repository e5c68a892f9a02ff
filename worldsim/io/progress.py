"""A named phase of a long command, so no wait is silent: on a terminal a spinner with the seconds so far, then one
line with the time it took; elsewhere (a pipe, a log file, a notebook) the phase's name when it starts and its
time when it ends, nothing in between.

    with phase("compiling the simulator"):
        sim.step(...)
    # terminal:  "| compiling the simulator  3 s" while it runs, then "compiling the simulator: 4.2 s"
"""

from __future__ import annotations

import contextlib
import itertools
import sys
import threading
import time

FRAMES = "|/-\\"
EVERY_S = 0.25


@contextlib.contextmanager
def phase(label: str, stream=None, spinner: bool | None = None):
    stream = stream or sys.stderr
    if spinner is None:
        spinner = bool(getattr(stream, "isatty", lambda: False)())
    t0 = time.perf_counter()
    stop = threading.Event()
    thread = None
    if spinner:
        def spin():
            for frame in itertools.cycle(FRAMES):
                stream.write(f"\r{frame} {label}  {time.perf_counter() - t0:.0f} s ")
                stream.flush()
                if stop.wait(EVERY_S):
                    break

        thread = threading.Thread(target=spin, name="worldsim-spinner", daemon=True)
        thread.start()
    else:
        stream.write(f"{label} ...\n")
        stream.flush()
    ok = False
    try:
        yield
        ok = True
    finally:
        stop.set()
        if thread is not None:
            thread.join()
            stream.write("\r\x1b[K")  # clear the spinner's line
        seconds = time.perf_counter() - t0
        stream.write(f"{label}: {seconds:.1f} s\n" if ok else f"{label}: stopped after {seconds:.1f} s\n")
        stream.flush()


class ticking:
    """Redraw a tqdm bar every `every_s` until stopped, so its elapsed time keeps moving through a long item (the
    first one compiles) instead of standing still until the item ends. A context manager, or .stop() by hand."""

    def __init__(self, bar, every_s: float = 1.0):
        self._stop = threading.Event()

        def tick():
            while not self._stop.wait(every_s):
                bar.refresh()

        self._thread = threading.Thread(target=tick, name="worldsim-bar", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
