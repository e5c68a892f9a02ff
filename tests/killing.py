"""Shared by the kill-and-resume tests: start a training script, SIGKILL it once it has checkpointed."""

import os
import signal
import subprocess
import sys
import time


def saved_steps(ckdir) -> list[int]:
    """Steps of the finished orbax checkpoints under ckdir (skipping orbax's temporary folders)."""
    return [int(p.name) for p in ckdir.glob("*") if p.name.isdigit()] if ckdir.exists() else []


def kill_after_checkpoint(script: str, ckdir, min_step: int, timeout: float = 240) -> int:
    """Run `python -c script`, SIGKILL it as soon as a checkpoint >= min_step exists; returns the last saved step."""
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "JAX_PLATFORMS": "cpu"})
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        steps = saved_steps(ckdir)
        if steps and max(steps) >= min_step:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished (or died) before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return max(saved_steps(ckdir))
