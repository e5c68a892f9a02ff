"""Multi-device and multi-process training: the mesh rules, 8 fake devices (4x2 and 8x1) against one device (and the
tokenizer on 2x2), two processes training together, checkpoints moving between meshes, the CLI errors.

Runs on fake devices live in subprocesses (tests/scale_worker.py): XLA_FLAGS and jax.distributed must be set before
jax starts. Their XLA is told to optimise less: compiling the tiny step then takes ~3 s instead of ~18 s on two busy
CPU cores, and every comparison is between runs compiled alike."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx
from jax.sharding import AbstractMesh, PartitionSpec as P

import scale_worker
from worldsim.cli import main as cli_main
from worldsim.dynamics.load import load as load_dynamics
from worldsim.tokenizer import Tokenizer, TokenizerConfig
from worldsim.tokenizer.load import export as export_tokenizer, load as load_tokenizer
from worldsim.train.mesh import check_batch, make_mesh, param_spec, parse_mesh

WORKER = Path(scale_worker.__file__)
FAST_XLA = ("--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true "
            "--xla_cpu_use_fusion_emitters=false")


def run_workers(*commands: tuple, devices: int, timeout: float = 240) -> None:
    """Run worker commands side by side (the processes of one multi-process run); fail with a failed one's output.
    One that fails or hangs takes the others down with it: none outlives the test."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices} {FAST_XLA}"}
    procs = [subprocess.Popen([sys.executable, str(WORKER), *map(str, c)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for c in commands]
    deadline = time.monotonic() + timeout
    try:
        while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
            if any(p.poll() not in (None, 0) for p in procs):
                break
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    outs = [p.communicate()[0] for p in procs]
    for p, out in zip(procs, outs):
        assert p.returncode == 0, f"worker {p.args[2:]} exited with {p.returncode}:\n{out[-4000:]}"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    d = tmp_path_factory.mktemp("scale")
    export_tokenizer(Tokenizer(TokenizerConfig.tiny(), rngs=nnx.Rngs(0)), d / "tokenizer")
    return d


@pytest.fixture(scope="module")
def mesh_runs(root):
    """The tiny dynamics run on one device, on data=4,fsdp=2 and on data=8 (8 fake devices, one subprocess)."""
    run_workers(("meshes", root), devices=8)
    return root


def params(model) -> dict:
    return {"/".join(map(str, k)): np.asarray(v) for k, v in nnx.to_flat_state(nnx.state(model, nnx.Param))}


def losses(workdir: Path) -> tuple[list, list, float]:
    lines = [json.loads(x) for x in (workdir / "metrics.jsonl").read_text().splitlines()]
    return [x["step"] for x in lines], [x["loss"] for x in lines], lines[-1]["val_loss"]


def assert_close(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=0, atol=1e-5, err_msg=k)


# ----- the rules -----


def test_parse_mesh_and_its_errors():
    assert parse_mesh("data=4,fsdp=2") == {"data": 4, "fsdp": 2}
    assert parse_mesh("fsdp=8") == {"data": 1, "fsdp": 8} and parse_mesh(" data=2 ") == {"data": 2, "fsdp": 1}
    for text, match in [("model=2", "unknown axis 'model'.*data and fsdp"), ("data=0", "size >= 1"),
                        ("data", "size >= 1"), ("data=x", "size >= 1"), ("data=2,data=2", "given twice"),
                        ("", "at least one axis")]:
        with pytest.raises(ValueError, match=match):
            parse_mesh(text)


def test_make_mesh_checks_the_device_count_and_check_batch_the_batch():
    n = jax.device_count()
    mesh = make_mesh()
    assert mesh.axis_names == ("data", "fsdp") and mesh.shape == {"data": 1, "fsdp": 1}
    assert make_mesh(f"data={n}").size == n
    with pytest.raises(ValueError, match=rf"needs {2 * n} devices but there are {n}.*--mesh data={n}"):
        make_mesh(f"data={n},fsdp=2")
    big = AbstractMesh((4, 2), ("data", "fsdp"))  # the shape is all check_batch needs
    check_batch(16, big)
    with pytest.raises(ValueError, match=r"batch_size=12 does not split over the mesh's 8 devices.*--batch-size 16"):
        check_batch(12, big)


def test_param_spec_shards_the_largest_divisible_dimension():
    assert param_spec((32, 128), 2) == P(None, "fsdp")
    assert param_spec((128, 32), 4) == P("fsdp")
    assert param_spec((6, 32), 4) == P(None, "fsdp")  # 6 does not divide by 4: the next largest that does
    assert param_spec((5, 3), 2) == P() and param_spec((), 2) == P()  # nothing divides: replicated
    assert param_spec((64, 64), 2) == P("fsdp")  # a tie: the first
    assert param_spec((32, 128), 1) == P()


# ----- 8 fake devices against one -----


def test_meshes_train_like_one_device(mesh_runs):
    ref_steps, ref_loss, ref_val = losses(mesh_runs / "one")
    ref = params(load_dynamics(mesh_runs / "one" / "model"))
    assert ref_steps == list(range(1, scale_worker.STEPS + 1))
    for name in ("4x2", "8x1"):
        steps, loss, val = losses(mesh_runs / name)
        assert steps == ref_steps
        np.testing.assert_allclose(loss, ref_loss, rtol=0, atol=1e-5)
        np.testing.assert_allclose(val, ref_val, rtol=0, atol=1e-5)
        assert_close(params(load_dynamics(mesh_runs / name / "model")), ref)
    # The layouts the runs trained with: FSDP on 4x2 (each device holds half of every divisible array), plain data
    # parallel on 8x1 (whole copies).
    fsdp = json.loads((mesh_runs / "4x2" / "layout.json").read_text())
    split = 0
    for name, (spec, shard, shape) in fsdp.items():
        assert spec == str(param_spec(tuple(shape), 2)), name
        split += shard != shape
        if spec != str(P()):
            assert np.prod(shard) * 2 == np.prod(shape), name
    assert split > 0.8 * len(fsdp)
    for name, (spec, shard, shape) in json.loads((mesh_runs / "8x1" / "layout.json").read_text()).items():
        assert spec == str(P()) and shard == shape, name


def test_tokenizer_on_a_mesh_trains_like_one_device(tmp_path):
    run_workers(("tokenizer", tmp_path), devices=4)
    runs = tmp_path / "tokenizer_runs"
    want = [json.loads(x)["loss"] for x in (runs / "one" / "metrics.jsonl").read_text().splitlines()]
    got = [json.loads(x)["loss"] for x in (runs / "2x2" / "metrics.jsonl").read_text().splitlines()]
    assert len(want) == 3
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    assert_close(params(load_tokenizer(runs / "2x2" / "model")), params(load_tokenizer(runs / "one" / "model")))
    for name, (spec, shard, shape) in json.loads((runs / "2x2" / "layout.json").read_text()).items():
        want_spec = param_spec(tuple(shape), 2)
        assert spec == str(want_spec) and np.prod(shard) * (1 if want_spec == P() else 2) == np.prod(shape), name


# ----- two processes -----


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_train_together_like_one_device(mesh_runs):
    root = mesh_runs
    shutil.copytree(root / "one" / "latents", root / "procs" / "latents")  # the same clips, encoded once
    port = free_port()
    run_workers(*(("process", root, port, i, 2) for i in range(2)), devices=2)  # 2 x 2 devices: data=2,fsdp=2
    ours = [dict(np.load(root / f"process_{i}.npz")) for i in range(2)]
    for k in ours[0]:  # one model: both processes hold the same values
        np.testing.assert_array_equal(ours[0][k], ours[1][k], err_msg=k)
    ref = params(load_dynamics(root / "one" / "model"))
    assert_close(ours[0], ref)
    assert_close(params(load_dynamics(root / "procs" / "model")), ref)  # process 0's export
    steps, loss, val = losses(root / "procs")
    _, ref_loss, ref_val = losses(root / "one")
    assert steps == list(range(1, scale_worker.STEPS + 1))  # logged once per step: by process 0 only
    np.testing.assert_allclose(loss, ref_loss, rtol=0, atol=1e-5)
    np.testing.assert_allclose(val, ref_val, rtol=0, atol=1e-5)


# ----- checkpoints across meshes -----


def test_checkpoints_move_between_one_and_eight_devices(mesh_runs):
    """Each run's last checkpoint (model and optimizer), written on one device or on 4x2, restores identically on
    one device (here) and on 4x2 (the worker), with each mesh's own layout; the parameters are the run's."""
    one = make_mesh("data=1", devices=jax.devices()[:1])
    for name in ("one", "4x2"):
        objects = scale_worker.restore(mesh_runs / name, one)
        arrays = jax.tree.leaves([nnx.state(o) for o in objects.values()])
        assert all(x.sharding.device_set == {jax.devices()[0]} for x in arrays)
        here = scale_worker.flat(objects)
        there = dict(np.load(mesh_runs / name / "restored_on_4x2.npz"))
        assert here.keys() == there.keys() and len(here) > 200
        for k in here:
            np.testing.assert_array_equal(here[k], there[k], err_msg=k)
        for k, v in params(load_dynamics(mesh_runs / name / "model")).items():  # the exported, trained values
            np.testing.assert_array_equal(here[f"model/{k}"], v, err_msg=k)
        for k, (spec, shard, shape) in json.loads((mesh_runs / name / "restored_layout.json").read_text()).items():
            want = param_spec(tuple(shape), 2)  # on 4x2: FSDP halves, whatever mesh wrote the checkpoint
            assert spec == str(want) and np.prod(shard) * (1 if want == P() else 2) == np.prod(shape), k


# ----- the command line -----


def test_cli_mesh_and_process_errors(tmp_path, capsys):
    args = ["train", "tokenizer", "--preset", "tiny", "--workdir", str(tmp_path)]
    for extra, match in [
        (["--mesh", "model=2"], "unknown axis 'model'"),
        (["--mesh", f"data={jax.device_count() + 1}"], "devices but there are"),
        (["--coordinator", "127.0.0.1:1234"], "needs all of --coordinator"),
        (["--coordinator", "nohost", "--num-processes", "2", "--process-id", "0"], "HOST:PORT"),
        (["--coordinator", "h:1", "--num-processes", "2", "--process-id", "2"], "use 0 .. 1"),
        (["--batch-size", "5"], "2 worlds x clips per world; use 2, 4"),
    ]:
        with pytest.raises(SystemExit) as e:
            cli_main(args + extra)
        assert e.value.code == 2, extra
        assert match in capsys.readouterr().err, extra
    assert not (tmp_path / "checkpoints").exists()  # every error came before any training
