"""Subprocess side of test_scale.py: runs that need XLA flags (fake devices) or jax.distributed set before jax starts.

    python scale_worker.py meshes ROOT                 # 8 devices: tiny dynamics on 1 device, 4x2, 8x1; checkpoints
                                                        # of the first two restored onto 4x2
    python scale_worker.py tokenizer ROOT              # 4 devices: the tiny tokenizer on 1 device and on 2x2
    python scale_worker.py process ROOT PORT ID COUNT  # one of COUNT processes (2 devices each) training together
"""

import json
import shutil
import sys
from pathlib import Path

import numpy as np

STEPS = 4
MESHES = {"one": "data=1", "4x2": "data=4,fsdp=2", "8x1": "data=8"}


def train_config(root: Path):
    from worldsim.train.dynamics import DynamicsTrainConfig

    # batch 8: splits over 8 devices; validation at the end exercises the replicated validation batch.
    return DynamicsTrainConfig.tiny().replace(tokenizer=str(root / "tokenizer"), batch_size=8, steps=STEPS,
                                              save_every=STEPS, log_every=1, val_every=STEPS, sample_every=0)


def layout(tree) -> dict:
    """{path: [spec, shard shape]} of a state tree: where each array actually lives."""
    import jax

    out = {}
    for path, x in jax.tree_util.tree_flatten_with_path(tree)[0]:
        name = "/".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path)
        out[name] = [str(x.sharding.spec), list(x.addressable_shards[0].data.shape), list(x.shape)]
    return out


def flat(objects: dict) -> dict:
    """{'model/blocks/0/...': numpy array} for every array of some nnx objects (their whole state)."""
    from flax import nnx

    return {f"{name}/" + "/".join(map(str, k)): np.asarray(v)
            for name, obj in objects.items() for k, v in nnx.to_flat_state(nnx.state(obj))}


def restore(workdir: Path, mesh) -> dict:
    """A run's last checkpoint restored (as the trainer resumes) into a fresh model and optimizer on `mesh`."""
    from flax import nnx

    from worldsim.dynamics import DynamicsModel
    from worldsim.train.checkpoint import Checkpointer
    from worldsim.train.dynamics import make_optimizer
    from worldsim.train.mesh import place

    cfg = train_config(workdir.parent)
    model = DynamicsModel(cfg.model, rngs=nnx.Rngs(1))  # another seed: every value must come from the checkpoint
    objects = {"model": model, "opt": make_optimizer(cfg, model)}
    for obj in objects.values():
        place(obj, mesh)
    ckpt = Checkpointer(workdir / "checkpoints")
    assert ckpt.latest_step() == STEPS
    ckpt.restore(STEPS, objects)
    ckpt.close()
    return objects


def meshes(root: Path) -> None:
    import jax
    from flax import nnx

    from worldsim.train.dynamics import train
    from worldsim.train.mesh import make_mesh

    assert jax.device_count() == 8, jax.devices()
    for name, spec in MESHES.items():
        workdir = root / name
        if name != "one":  # the same encoded clips: only the mesh differs
            shutil.copytree(root / "one" / "latents", workdir / "latents")
        mesh = make_mesh(spec, devices=jax.devices()[:1]) if name == "one" else spec
        model = train(train_config(root), workdir, quiet=True, mesh=mesh)
        (workdir / "layout.json").write_text(json.dumps(layout(nnx.state(model, nnx.Param))))
    # Checkpoints across meshes: the one-device run's and the 4x2 run's, both restored onto 4x2 (the test restores
    # them on one device and compares).
    for name in ("one", "4x2"):
        objects = restore(root / name, make_mesh("data=4,fsdp=2"))
        np.savez(root / name / "restored_on_4x2.npz", **flat(objects))
        layouts = layout({k: nnx.state(v) for k, v in objects.items()})
        (root / name / "restored_layout.json").write_text(json.dumps(layouts))


def tokenizer(root: Path) -> None:
    import dataclasses

    import jax
    from flax import nnx

    from worldsim.train.mesh import make_mesh
    from worldsim.train.tokenizer import TokenizerTrainConfig, train

    assert jax.device_count() == 4, jax.devices()
    cfg = dataclasses.replace(TokenizerTrainConfig.tiny(), steps=3, log_every=1, save_every=3)  # 2 worlds x 2 clips
    for name, mesh in (("one", make_mesh("data=1", devices=jax.devices()[:1])), ("2x2", "data=2,fsdp=2")):
        model = train(cfg, root / "tokenizer_runs" / name, quiet=True, mesh=mesh)
        (root / "tokenizer_runs" / name / "layout.json").write_text(json.dumps(layout(nnx.state(model, nnx.Param))))


def process(root: Path, port: int, pid: int, count: int) -> None:
    import jax
    from flax import nnx

    from worldsim.train import hosts
    from worldsim.train.dynamics import train

    assert hosts.initialize(f"127.0.0.1:{port}", count, pid)
    assert jax.process_count() == count and jax.device_count() == 2 * count
    model = train(train_config(root), root / "procs", quiet=True, mesh=f"data={count},fsdp=2")
    whole = hosts.local_copy(model)  # collective
    params = {"/".join(map(str, k)): np.asarray(v) for k, v in nnx.to_flat_state(nnx.state(whole, nnx.Param))}
    np.savez(root / f"process_{pid}.npz", **params)


if __name__ == "__main__":
    command, root = sys.argv[1], Path(sys.argv[2])
    if command == "meshes":
        meshes(root)
    elif command == "tokenizer":
        tokenizer(root)
    elif command == "process":
        process(root, *map(int, sys.argv[3:6]))
    else:
        raise SystemExit(f"unknown command {command!r}")
