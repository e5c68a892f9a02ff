"""The notebooks run top to bottom and show what they promise; each .ipynb is its .py (jupytext percent) without
outputs. Each notebook executes in a fresh Jupyter kernel of this interpreter (a kernelspec written to a temp dir,
so no kernel needs installing), with its working directory and TMPDIR inside pytest's tmp_path: whatever it
writes must land in TMPDIR. Together they take a few minutes on 2 CPU cores (`-m "not notebooks"` skips them)."""

from __future__ import annotations

import math
import os
import re
import sys
import time
from pathlib import Path

import jupytext
import nbformat
import pytest
from ipykernel.kernelspec import write_kernel_spec
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
NAMES = ("01_quickstart", "02_physics_probes", "03_agent_rollouts", "04_train_your_own")
CELL_TIMEOUT = 600  # seconds per cell: a hang guard; the slowest cell (02's quick suite) takes ~2 minutes
KERNEL = "worldsim-notebook-test"
WRITES_FILES = {"01_quickstart", "02_physics_probes", "04_train_your_own"}  # into a tempfile.mkdtemp folder


def test_the_notebooks_are_these():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.py")) == list(NAMES)
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == list(NAMES)


def _cells(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source) for c in nb.cells]


@pytest.mark.parametrize("name", NAMES)
def test_ipynb_is_in_sync_with_py(name):
    py = jupytext.read(NOTEBOOKS / f"{name}.py")
    ipynb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(ipynb)
    assert _cells(ipynb) == _cells(py), (
        f"notebooks/{name}.ipynb differs from its .py: run `jupytext --sync notebooks/{name}.py`")
    for c in ipynb.cells:
        if c.cell_type == "code":
            assert not c.outputs and c.execution_count is None, f"{name}.ipynb is committed with outputs: clear them"
    assert ipynb.metadata.get("jupytext", {}).get("formats") == "ipynb,py:percent"


def _imported_packages(source: str) -> set[str]:
    """Top-level packages a notebook imports."""
    mods = re.findall(r"^\s*(?:from\s+([\w.]+)\s+import|import\s+([\w.]+))", source, re.M)
    return {(a or b).split(".")[0] for a, b in mods}


@pytest.mark.parametrize("name", NAMES)
def test_notebooks_import_only_worldsim_and_its_dependencies(name):
    allowed = {"worldsim", "jax", "numpy", "matplotlib", "IPython", "dataclasses", "json", "tempfile", "pathlib",
               "time"}
    used = _imported_packages((NOTEBOOKS / f"{name}.py").read_text())
    assert "worldsim" in used and used <= allowed, used - allowed


# ----- execution -----


@pytest.fixture(scope="module")
def kernel_specs(tmp_path_factory) -> KernelSpecManager:
    """A kernelspec that runs this interpreter (sys.executable), found by name only by this manager."""
    kdir = tmp_path_factory.mktemp("kernels")
    write_kernel_spec(kdir / KERNEL, overrides={"display_name": "worldsim tests"},
                      python_arguments=["-Xfrozen_modules=off"])
    return KernelSpecManager(kernel_dirs=[str(kdir)], ensure_native_kernel=False)


def _outputs(nb) -> tuple[str, list[str], dict[str, int]]:
    """(all text the notebook printed or displayed, its markdown displays, count of each mime type shown)."""
    text, markdown, mimes = [], [], {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                text.append(out.text)
            elif out.output_type in ("display_data", "execute_result"):
                for mime, data in out.data.items():
                    mimes[mime] = mimes.get(mime, 0) + 1
                    if mime == "text/markdown":
                        markdown.append(data)
                    elif mime == "text/plain":
                        text.append(data)
            elif out.output_type == "error":
                pytest.fail(f"{out.ename}: {out.evalue}")
    return "\n".join(text), markdown, mimes


def execute(name: str, specs: KernelSpecManager, tmp_path: Path):
    """Run notebooks/NAME.py in a fresh kernel; returns the executed notebook, its wall time, and the files it
    left in its working directory and in its TMPDIR."""
    cwd, tmp = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir()
    tmp.mkdir()
    nb = jupytext.read(NOTEBOOKS / f"{name}.py")
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # the kernel's inline backend shows figures
    env.update(TMPDIR=str(tmp), PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
    km = KernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)
    client = NotebookClient(nb, km=km, timeout=CELL_TIMEOUT, resources={"metadata": {"path": str(cwd)}})
    t0 = time.time()
    try:
        # cleanup_kc: a client given its own KernelManager otherwise leaves the kernel running (and its channel
        # threads in this process): four idle kernels of ~1.3 GB each for the rest of the suite
        client.execute(env=env, cleanup_kc=True)
    finally:
        seconds = time.time() - t0
        nbformat.write(nb, tmp_path / f"{name}.executed.ipynb")  # to look at after a failure (pytest keeps tmp_path)
    sys.stderr.write(f"\n{name}: {seconds:.0f} s\n")
    return nb, seconds, list(cwd.rglob("*")), list(tmp.rglob("*"))


@pytest.mark.notebooks
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name, kernel_specs, tmp_path):
    before = sorted(ROOT.glob("notebooks/**/*"))
    nb, seconds, in_cwd, in_tmp = execute(name, kernel_specs, tmp_path)
    text, markdown, mimes = _outputs(nb)
    assert not in_cwd and sorted(ROOT.glob("notebooks/**/*")) == before, f"{name} wrote outside its temp dir"
    assert bool(in_tmp) == (name in WRITES_FILES), in_tmp
    assert "Traceback" not in text
    CHECKS[name](text, markdown, mimes)


def _check_quickstart(text, markdown, mimes):
    assert mimes.get("image/png", 0) >= 3 and mimes.get("image/gif", 0) == 1  # sheet, forks, readout; the video
    assert "rolled out to t = 13" in text and "predicted (13, 64, 64, 3)" in text
    assert "branch frames: (4, 8, 64, 64, 3)" in text
    assert all(f"push {n:5s}:" in text for n in ("right", "left", "up", "down"))  # each branch's readout


def _check_probes(text, markdown, mimes):
    table = "\n".join(markdown)
    assert "# Physics report: worldsim:default" in table
    assert "| measure | model | score | copy-last |" in table
    assert mimes.get("image/png", 0) >= 3  # trajectories, error vs horizon, conservation (and surprise)
    m = re.search(r"velocity error ([0-9.]+) u/s, ADE ([0-9.]+) u", text)
    assert m and all(math.isfinite(float(v)) for v in m.groups())


def _check_agents(text, markdown, mimes):
    assert "frames decoded: None" in text and "readout positions: (32, 8, 6, 2)" in text
    assert re.search(r"best of 32 random plans: candidate \d+, score -?[0-9.]+", text)
    learned = re.search(r"CEM in the learned simulator: success (\d)/2", text)
    true = re.search(r"CEM on the true physics: success (\d)/2", text)
    assert learned and true
    assert mimes.get("image/png", 0) >= 2  # the imagined futures; the paths vs the goals


def _check_training(text, markdown, mimes):
    tok = re.search(r"tokenizer: 40 steps, final reconstruction loss ([0-9.e+-]+)", text)
    dyn = re.search(r"dynamics: 40 steps, final loss ([0-9.e+-]+) \(first logged ([0-9.e+-]+)\)", text)
    assert tok and dyn and math.isfinite(float(tok.group(1))) and math.isfinite(float(dyn.group(1)))
    assert re.search(r"t = 9 ; red ball read out at \[", text)
    assert mimes.get("image/png", 0) >= 3  # the videos, the loss curves, the rollout


CHECKS = {"01_quickstart": _check_quickstart, "02_physics_probes": _check_probes, "03_agent_rollouts": _check_agents,
          "04_train_your_own": _check_training}
