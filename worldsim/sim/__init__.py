"""The simulator: a WorldModel (tokenizer + dynamics), the pure step core, and the Simulator shell."""

from worldsim.sim.core import branch_ids, fork, init, readout, render, rollout, step, step_key
from worldsim.sim.load import export, load
from worldsim.sim.model import Sampling, WorldModel
from worldsim.sim.simulator import Simulator
from worldsim.sim.state import Readout, SimState, StepOutput

__all__ = [
    "WorldModel", "Sampling", "Simulator", "load", "export", "init", "step", "rollout", "render", "readout", "fork", "step_key",
    "branch_ids",
    "SimState", "StepOutput", "Readout",
]
