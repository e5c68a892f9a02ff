"""The training mesh: devices on axes ("data", "fsdp"); batches split over both axes, parameters and optimizer
state sharded over "fsdp" (standard FSDP). Only jax's own SPMD machinery: a `Mesh`, `NamedSharding`s, and jit with
sharding constraints; XLA inserts the collectives.

    worldsim train dynamics ... --mesh data=4,fsdp=2
"""

from __future__ import annotations

import jax
import numpy as np
from flax import nnx
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec as P

AXES = ("data", "fsdp")
BATCH = P(AXES)  # the leading (batch) axis is split over every device, as FSDP does


def parse_mesh(text: str) -> dict[str, int]:
    """'data=4,fsdp=2' -> {'data': 4, 'fsdp': 2}; an axis left out has size 1."""
    sizes = dict.fromkeys(AXES, 1)
    seen = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, eq, value = part.partition("=")
        name = name.strip()
        if name not in AXES:
            raise ValueError(f"--mesh {text!r}: unknown axis {name!r}; the axes are data and fsdp, "
                             "e.g. --mesh data=4,fsdp=2")
        if not eq or not value.strip().isdigit() or int(value) < 1:
            raise ValueError(f"--mesh {text!r}: give each axis a size >= 1, e.g. --mesh data=4,fsdp=2")
        if name in seen:
            raise ValueError(f"--mesh {text!r}: axis {name!r} is given twice")
        seen.add(name)
        sizes[name] = int(value)
    if not seen:
        raise ValueError(f"--mesh {text!r}: name at least one axis, e.g. --mesh data=4,fsdp=2")
    return sizes


def make_mesh(spec: str | dict | Mesh | None = None, devices=None) -> Mesh:
    """A mesh over `devices` (default: all of them, every process's). No spec: one device when this is the only
    process (so a plain run is unchanged), else data parallel over all devices."""
    if isinstance(spec, Mesh):
        return spec
    devices = list(jax.devices() if devices is None else devices)
    if spec is None:
        sizes = {"data": len(devices) if jax.process_count() > 1 else 1, "fsdp": 1}
        devices = devices[: sizes["data"]]
    else:
        sizes = parse_mesh(spec) if isinstance(spec, str) else {**dict.fromkeys(AXES, 1), **spec}
    want = sizes["data"] * sizes["fsdp"]
    if want != len(devices):
        text = ",".join(f"{k}={v}" for k, v in sizes.items())
        raise ValueError(f"--mesh {text} needs {want} devices but there are {len(devices)}: make data x fsdp equal "
                         f"{len(devices)} (e.g. --mesh data={len(devices)}), or hide devices "
                         "(CUDA_VISIBLE_DEVICES)")
    # Auto axes: jit propagates shardings from the inputs and the constraints below (jax.make_mesh's default,
    # Explicit, would make sharding part of every array's type).
    grid = np.asarray(devices, dtype=object).reshape(sizes["data"], sizes["fsdp"])
    return Mesh(grid, AXES, axis_types=(AxisType.Auto, AxisType.Auto))


def describe(mesh: Mesh) -> str:
    return ",".join(f"{k}={v}" for k, v in mesh.shape.items())


def check_batch(batch_size: int, mesh: Mesh, what: str = "batch_size") -> None:
    n = mesh.size
    if batch_size % n:
        raise ValueError(f"{what}={batch_size} does not split over the mesh's {n} devices ({describe(mesh)}): "
                         f"use a multiple of {n} (--batch-size {n * max(1, round(batch_size / n))}), or a smaller "
                         "mesh")


def param_spec(shape: tuple[int, ...], fsdp: int) -> P:
    """Shard along the largest dimension divisible by the fsdp size (the first such if tied); replicate otherwise."""
    dims = [i for i, n in enumerate(shape) if fsdp > 1 and n % fsdp == 0]
    if not dims:
        return P()
    axis = max(dims, key=lambda i: (shape[i], -i))
    return P(*(None,) * axis, "fsdp")  # no trailing Nones: the form jit reports shardings in


def shardings(tree, mesh: Mesh):
    """NamedSharding for every array of a state tree, by `param_spec` (Adam moments follow their parameters)."""
    return jax.tree.map(lambda x: NamedSharding(mesh, param_spec(x.shape, mesh.shape["fsdp"])), tree)


def place(obj, mesh: Mesh) -> None:
    """Move an nnx object's state (a freshly made model or optimizer, identical on every process) onto the mesh.

    Built from each process's own copy, shard by shard, so it also works when the mesh spans processes."""
    state = nnx.state(obj)
    host = jax.tree.map(np.asarray, state)
    nnx.update(obj, jax.tree.map(lambda x, s: jax.make_array_from_callback(x.shape, s, lambda i: x[i]),
                                 host, shardings(host, mesh)))


def constrain(obj, mesh: Mesh) -> None:
    """Inside jit: pin an nnx object's updated state to its FSDP shardings, so the step's outputs keep the layout
    of its inputs (and the next call does not recompile or reshard)."""
    state = nnx.state(obj)
    nnx.update(obj, jax.lax.with_sharding_constraint(state, shardings(state, mesh)))


def _local_rows(sharding: NamedSharding, shape: tuple[int, ...]) -> slice:
    """The rows of a batch-sharded global array that this process's devices hold (one contiguous block)."""
    spans = sorted({(s[0].start or 0, shape[0] if s[0].stop is None else s[0].stop)
                    for s in sharding.addressable_devices_indices_map(shape).values()})
    if any(a[1] != b[0] for a, b in zip(spans, spans[1:])):
        raise ValueError(f"this process's devices hold rows {spans} of the batch, not one block: build the mesh "
                         "with worldsim.train.mesh.make_mesh (devices in process order)")
    return slice(spans[0][0], spans[-1][1])


def shard_batch(batch, mesh: Mesh):
    """Global batch (a tree of numpy arrays, the same on every process) -> global jax arrays split over (data,
    fsdp) along their first axis; each process hands over only the rows its own devices hold."""
    sharding = NamedSharding(mesh, BATCH)

    def put(v):
        v = np.asarray(v)
        return jax.make_array_from_process_local_data(sharding, v[_local_rows(sharding, v.shape)], v.shape)

    return jax.tree.map(put, batch)


def replicate(tree, mesh: Mesh):
    """Every device holds all of it (e.g. a validation batch, whose size need not divide the mesh)."""
    sharding = NamedSharding(mesh, P())
    return jax.tree.map(lambda v: jax.make_array_from_process_local_data(sharding, np.asarray(v)), tree)
