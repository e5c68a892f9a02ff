"""worldsim: a JAX/Flax world simulator (see README.md and DESIGN.md)."""

from worldsim import io, probes, worlds

__version__ = "0.1.0"
__all__ = ["worlds", "probes", "io", "__version__"]
