"""worldsim: a JAX/Flax world simulator (see README.md and docs/design.md)."""

from worldsim.io import compile_cache

compile_cache.enable()  # before anything compiles: repeat runs load their compiled code (worldsim.io.compile_cache)

from worldsim import io, probes, viz, worlds  # noqa: E402
from worldsim.sim import Simulator, WorldModel, fork, load  # noqa: E402
from worldsim import envs  # noqa: E402  registers "worldsim/WorldSim-v0" with Gymnasium (~30 ms on top of the above)

__version__ = "0.1.0"
__all__ = ["worlds", "probes", "io", "viz", "envs", "load", "WorldModel", "Simulator", "fork", "__version__"]
