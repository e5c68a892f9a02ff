"""Agents that plan in a simulator: CEM model-predictive control on the learned simulator (or on the true physics
as an upper baseline), and closed-loop trials in the real push world."""

from worldsim.agents.cem import CEMConfig, plan, shift
from worldsim.agents.policies import Observation, Policy, learned_planner, random_policy, true_planner
from worldsim.agents.push import Trial, episode, evaluate

__all__ = [
    "CEMConfig", "Observation", "Policy", "Trial", "episode", "evaluate", "learned_planner", "plan",
    "random_policy", "shift", "true_planner",
]
