"""worldsim: a JAX/Flax world simulator (see README.md and DESIGN.md)."""

from worldsim import io, probes, viz, worlds

__version__ = "0.1.0"
__all__ = ["worlds", "probes", "io", "viz", "__version__"]
