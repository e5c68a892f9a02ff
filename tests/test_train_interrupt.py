"""Ctrl+C during `worldsim train` loses nothing and says so: exit code 130, no traceback, no crash, no unfinished
checkpoint folder, and a last line naming the saved step and the command that resumes.

One tiny tokenizer run in one workdir is interrupted three times, each by a SIGINT at a marker its driver prints:
(a) as the first step starts tracing and compiling (before the fix: a segfault at exit), (b) while stepping, and
(c) while orbax writes a checkpoint (before the fix: orbax's traceback and a `*.orbax-checkpoint-tmp*` folder).
The driver is `worldsim.cli.main` with the markers patched in; nothing in worldsim knows about tests.
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

# The driver: print a marker when each training step starts and while orbax writes a checkpoint's config (and
# linger there, so that the signal lands mid-write), then run the CLI as the console script does.
DRIVER = r"""
import asyncio, sys, time
import worldsim.train.tokenizer as trainer
from orbax.checkpoint import handlers

def say(text):
    print(f"MARKER {text}", file=sys.stderr, flush=True)

step = trainer.train_step
def marked_step(*a, **k):
    say("step")
    return step(*a, **k)
trainer.train_step = marked_step

write = handlers.JsonCheckpointHandler._save_fn
async def marked_write(self, x, directory):
    say("write")
    await asyncio.sleep(1.0)
    return await write(self, x, directory)
handlers.JsonCheckpointHandler._save_fn = marked_write

from worldsim.cli import main
sys.exit(main())
"""
FAST_XLA = ("--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true "
            "--xla_cpu_use_fusion_emitters=false")


def interrupt_at(workdir, cache, marker: str, count: int = 1) -> tuple[int, str]:
    """Run `worldsim train tokenizer --preset tiny` in workdir; SIGINT at the count-th `marker`. -> (code, stderr)"""
    argv = ["train", "tokenizer", "--preset", "tiny", "--workdir", str(workdir)]
    # Quick compiles (as tests/test_scale.py), kept across the three runs: each later run starts in seconds.
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": FAST_XLA, "JAX_COMPILATION_CACHE_DIR": str(cache),
           "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0", "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, *argv], env=env, stderr=subprocess.PIPE, text=True)
    killer = threading.Timer(240, proc.kill)  # a hang fails the test instead of the suite
    killer.start()
    lines, seen = [], 0
    try:
        for line in proc.stderr:
            lines.append(line)
            if f"MARKER {marker}" in line:  # after tqdm's bar, which ends in \r, not a newline
                seen += 1
                if seen == count:
                    proc.send_signal(signal.SIGINT)
        proc.wait()
    finally:
        killer.cancel()
    assert seen >= count, f"the run ended before marker {marker!r} #{count}:\n{''.join(lines)[-3000:]}"
    return proc.returncode, "".join(lines)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The three interrupted runs, in order, in one workdir: {moment: (code, stderr, unfinished folders, saved
    steps)} (each run's state as it ended: the next run drops old checkpoints)."""
    workdir, cache = tmp_path_factory.mktemp("interrupted"), tmp_path_factory.mktemp("jax_cache")
    out = {}
    for moment, marker, count in (("compiling", "step", 1), ("stepping", "step", 4), ("writing", "write", 1)):
        t0 = time.time()
        code, err = interrupt_at(workdir, cache, marker, count)
        print(f"{moment}: {time.time() - t0:.1f} s")
        out[moment] = (code, err, sorted(p.name for p in workdir.rglob("*orbax-checkpoint-tmp*")),
                       {int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit()})
    return workdir, out


def saved_step(run, workdir) -> int:
    """The step a run's last line names, checked against the whole line and the checkpoints."""
    _, err, _, steps = run
    last = err.strip().splitlines()[-1]
    m = re.fullmatch(r"worldsim: interrupted at step (\d+); the last saved checkpoint is step (\d+) \((.*)\); run "
                     r"the same command to resume from it: worldsim train tokenizer --preset tiny --workdir (.*)",
                     last)
    assert m, last
    assert m.group(1) == m.group(2), "the step reached is saved: nothing is lost"
    assert m.group(3) == str(workdir / "checkpoints") and m.group(4) == str(workdir)
    assert int(m.group(2)) == max(steps)
    return int(m.group(2))


@pytest.mark.parametrize("moment", ["compiling", "stepping", "writing"])
def test_ctrl_c_exits_130_cleanly_and_names_the_saved_step(runs, moment):
    workdir, out = runs
    code, err, unfinished, _ = out[moment]
    assert code == 130, f"exit code {code} (-11 is the segfault this guards against):\n{err[-3000:]}"
    assert "Traceback" not in err, err[-3000:]
    assert unfinished == []
    saved_step(out[moment], workdir)


def test_the_same_command_resumes_from_the_saved_step(runs):
    """Each run resumes from the step the one before saved; the write was let finish, then the run stopped."""
    workdir, out = runs
    first = saved_step(out["compiling"], workdir)
    assert first == 1, "Ctrl+C while compiling: the first step finishes and is saved"
    assert f"resuming from step {first} " in out["stepping"][1]
    second = saved_step(out["stepping"], workdir)
    assert second > first
    assert f"resuming from step {second} " in out["writing"][1]
    assert saved_step(out["writing"], workdir) == 20, "the tiny preset's first regular checkpoint"


# ----- the guard alone: the Python API (a notebook) and a second Ctrl+C -----


def test_in_python_the_loop_raises_interrupted_a_keyboardinterrupt_after_saving(tmp_path):
    """What `ws.train...`/`train()` callers (a notebook) get: a KeyboardInterrupt subclass carrying the message,
    raised between steps once the step reached is saved; SIGINT is Python's own again afterwards."""
    from worldsim.train.interrupt import Interrupted, guard

    saved = []
    with pytest.raises(KeyboardInterrupt) as caught:
        with guard(tmp_path, 10, saved.append, last=100) as stop:
            stop.after(11)
            os.kill(os.getpid(), signal.SIGINT)  # lands "inside step 12": only noted
            time.sleep(0.1)
            stop.after(12)
    assert isinstance(caught.value, Interrupted) and saved == [12]
    assert str(caught.value) == (f"interrupted at step 12; the last saved checkpoint is step 12 ({tmp_path}); run "
                                 "the same command to resume from it")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_during_setup_stops_before_the_first_step_with_nothing_new_saved(tmp_path):
    """The dynamics trainer's setup (encoding clips into latents, minutes on the small preset) is guarded too."""
    from worldsim.train.interrupt import Interrupted, guard

    saved = []
    with pytest.raises(Interrupted) as caught:
        with guard(tmp_path, 40, saved.append, last=100) as stop:
            os.kill(os.getpid(), signal.SIGINT)  # lands during setup: only noted
            time.sleep(0.1)
            stop.before_first_step()
    assert saved == [] and "the last saved checkpoint is step 40" in str(caught.value)


def test_ctrl_c_at_the_last_step_lets_the_run_finish(tmp_path):
    from worldsim.train.interrupt import guard

    with guard(tmp_path, None, lambda step: None, last=5) as stop:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.1)
        stop.after(5)  # training is over: no raise, the export follows


SECOND = r"""
import os, signal, sys, time
from pathlib import Path
from worldsim.train.interrupt import guard
with guard(Path(sys.argv[1]), 30, lambda step: None, last=100) as stop:
    stop.after(31)
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.2)
    os.kill(os.getpid(), signal.SIGINT)  # a second Ctrl+C: stop at once
    time.sleep(10)
print("not reached")
"""


def test_a_second_ctrl_c_stops_at_once_and_names_the_saved_step(tmp_path):
    proc = subprocess.run([sys.executable, "-c", SECOND, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 130 and "not reached" not in proc.stdout and "Traceback" not in proc.stderr
    assert "press Ctrl+C again to stop at once" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (f"worldsim: interrupted at step 31; the last saved checkpoint is "
                                                    f"step 30 ({tmp_path}); run the same command to resume from it")


def test_unfinished_writes_are_removed_at_the_next_start(tmp_path, capfd):
    """What a run killed mid-write (SIGKILL, power cut) leaves; one line says what went."""
    from worldsim.train.checkpoint import Checkpointer

    ck = tmp_path / "checkpoints"
    (ck / "20.orbax-checkpoint-tmp" / "state.orbax-checkpoint-tmp").mkdir(parents=True)
    (ck / "config.json.tmp").write_text("{")
    Checkpointer(ck).close()
    assert sorted(p.name for p in ck.iterdir()) == []
    assert (f"removed 20.orbax-checkpoint-tmp, config.json.tmp from {ck}: unfinished writes of a run that was "
            "stopped") in capfd.readouterr().err
