"""Several processes (hosts) training one model: start-up, who writes files, host-local copies of sharded models.

Every process runs the same program on its own devices (jax's multi-controller model); collectives between them go
through jax.distributed (on CPU via gloo, jax's default CPU collectives). Process 0 logs and exports; all processes
take part in every jitted step and every orbax checkpoint (each writes the shards it holds).
"""

from __future__ import annotations

import jax
from flax import nnx


def initialize(coordinator: str | None = None, num_processes: int | None = None, process_id: int | None = None,
               auto: bool = False) -> bool:
    """Join a multi-process run before any other jax call; returns whether one was joined.

    Give all three of coordinator ('host:port' of process 0), num_processes and process_id, or auto=True to let
    jax detect them (Slurm, Open MPI, Cloud TPU, or the JAX_COORDINATOR_ADDRESS environment variable)."""
    given = [x is not None for x in (coordinator, num_processes, process_id)]
    if any(given) and not all(given):
        raise ValueError("multi-process training needs all of --coordinator HOST:PORT, --num-processes N and "
                         "--process-id I (or --distributed to let jax detect them)")
    if all(given):
        if ":" not in coordinator:
            raise ValueError(f"--coordinator {coordinator!r}: give process 0's address as HOST:PORT")
        if not 0 <= process_id < num_processes:
            raise ValueError(f"--process-id {process_id}: use 0 .. {num_processes - 1} (--num-processes "
                             f"{num_processes})")
        jax.distributed.initialize(coordinator, num_processes, process_id)
        return True
    if auto:
        jax.distributed.initialize()
        return True
    return False


def is_main() -> bool:
    """Process 0 writes logs, metrics, videos and the exported model; the others only compute."""
    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Wait until every process gets here (no-op for one process)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def local_copy(obj):
    """A copy of an nnx object with every array whole on this process's first device (collective: all processes
    call it). For what runs on one process only: sample videos and the model export."""
    from jax.experimental import multihost_utils

    graphdef, state = nnx.split(obj)
    device = jax.local_devices()[0]
    if jax.process_count() == 1:
        whole = jax.device_put(state, device)  # one transfer per array: no host round trip
    else:  # a gather over processes of the arrays they each hold part of
        whole = jax.device_put(multihost_utils.process_allgather(state, tiled=True), device)
    return nnx.merge(graphdef, whole)
