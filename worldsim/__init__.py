"""worldsim: a JAX/Flax world simulator (see README.md and DESIGN.md)."""

from worldsim import io, probes, viz, worlds
from worldsim.sim import Simulator, WorldModel, fork, load

__version__ = "0.1.0"
__all__ = ["worlds", "probes", "io", "viz", "load", "WorldModel", "Simulator", "fork", "__version__"]
