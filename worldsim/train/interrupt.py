"""Ctrl+C during training: finish the step or checkpoint write under way, save, stop, and say how to resume.

Python's own SIGINT handler raises KeyboardInterrupt wherever the main thread happens to be. Raised inside jax's
tracing and compiling of the first step, it left the process to crash (a segfault at exit); raised while orbax
wrote a checkpoint, it printed orbax's traceback and left a `<step>.orbax-checkpoint-tmp-*` folder. So while a
trainer's loop runs (`guard`), SIGINT only sets a flag. The loop looks at it once a step (and its checkpoint)
is done, saves that step, and raises `Interrupted`: nothing is lost, and the CLI prints one line and exits 130.

A second Ctrl+C stops at once (the step under way is lost; a checkpoint being written is left unfinished and
removed at the next start): the process exits with 130, or, in a notebook or an interactive session, which must
survive, `Interrupted` is raised where the main thread is.

Python runs signal handlers between bytecodes of the main thread, so a press during a long XLA compilation is
seen (and acknowledged) when the compilation returns.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path


class Interrupted(KeyboardInterrupt):
    """Training stopped by Ctrl+C. A KeyboardInterrupt, so code that stops on one still does; the message says
    where the run stopped and how to resume it."""

    def __init__(self, step: int, saved: int | None, checkpoints: Path):
        self.step, self.saved, self.checkpoints = step, saved, Path(checkpoints)
        super().__init__(describe(step, saved, checkpoints))

    def __str__(self) -> str:
        return self.args[0]


def describe(step: int, saved: int | None, checkpoints: Path) -> str:
    if saved is None:
        return (f"interrupted at step {step}, before any checkpoint was saved ({checkpoints} is empty); run the same "
                "command to start again")
    return (f"interrupted at step {step}; the last saved checkpoint is step {saved} ({checkpoints}); run the same "
            "command to resume from it")


class Stop:
    """The loop's side of Ctrl+C: `save(step)` writes a checkpoint, `after(step)` ends each step and raises
    `Interrupted` (once the step is saved) if Ctrl+C was pressed."""

    def __init__(self, checkpoints: Path, saved: int | None, save, last: int):
        self.checkpoints, self.saved, self._save, self.last = Path(checkpoints), saved, save, last
        self.step, self.saving, self.presses = saved or 0, False, 0

    def save(self, step: int) -> None:
        self.saving = True  # a second Ctrl+C now drops this checkpoint, and says so
        self._save(step)
        self.saving, self.saved = False, step

    def after(self, step: int) -> None:
        """Step `step` is done (and saved, if due). Past the last step the run ends as usual: training is over."""
        self.step = step
        if step < self.last and self.requested():
            if self.saved != step:
                self.save(step)
            raise Interrupted(step, self.saved, self.checkpoints)

    def before_first_step(self) -> None:
        """Setup (loading, encoding the clips into latents) is done: stop here, with nothing new to save, if Ctrl+C
        was pressed during it."""
        if self.requested():
            raise Interrupted(self.step, self.saved, self.checkpoints)

    def requested(self) -> bool:
        """Whether Ctrl+C was pressed. Several processes agree (any one pressed: all stop at this step and save it
        together); this is then a collective, which `after` calls at the same point in every process."""
        pressed = self.presses > 0
        import jax

        if jax.process_count() > 1:
            import numpy as np
            from jax.experimental import multihost_utils

            pressed = bool(np.any(multihost_utils.process_allgather(np.int32(pressed))))
        return pressed

    def _handle(self, signum, frame) -> None:
        self.presses += 1
        if self.presses == 1:
            _say("\nworldsim: stopping once the step (or the setup) under way is done, and saving; press Ctrl+C "
                 "again to stop at once, losing it")
            return
        note = " (the checkpoint being written is dropped)" if self.saving else ""
        if _interactive():  # a notebook kernel must survive: raise here, as Python's own handler would
            raise Interrupted(self.step, self.saved, self.checkpoints)
        _say(f"\nworldsim: {describe(self.step, self.saved, self.checkpoints)}{note}")
        sys.stdout.flush()
        os._exit(130)  # skips the interpreter's teardown, which is what crashed with XLA mid-compile


def _interactive() -> bool:
    return "ipykernel" in sys.modules or hasattr(sys, "ps1") or bool(sys.flags.interactive)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@contextmanager
def guard(checkpoints: Path, saved: int | None, save, last: int):
    """Within: SIGINT sets a flag on the yielded `Stop` instead of raising. save(step) writes checkpoint `step`;
    saved: the step of the checkpoint resumed from (None: a fresh run); last: the run's final step. Where SIGINT
    cannot be taken (not the main thread) or was set to be ignored, it is left as it was."""
    stop = Stop(checkpoints, saved, save, last)
    own = threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) not in (
        signal.SIG_IGN, None)
    previous = signal.signal(signal.SIGINT, stop._handle) if own else None
    try:
        yield stop
    finally:
        if own:
            signal.signal(signal.SIGINT, previous)
