"""Environment adapters over the learned simulator: Gymnasium (registered as "worldsim/WorldSim-v0"), a
Gymnasium VectorEnv, dm_env, and a gymnax-style pure functional env; rewards from tasks on the physics readout;
each episode starts from a ground-truth world's scene unless given a prompt or frames (envs.scenes). `import
worldsim` imports this package, so gym.make("worldsim/WorldSim-v0") works after it."""

import gymnasium as gym

from worldsim.envs.dm import WorldSimDmEnv
from worldsim.envs.functional import EnvParams, FunctionalEnv, env_params
from worldsim.envs.gym_env import WorldSimEnv
from worldsim.envs.tasks import Goal, NoTask, ReachGoal, Task
from worldsim.envs.vector_env import WorldSimVectorEnv

ENV_ID = "worldsim/WorldSim-v0"

if ENV_ID not in gym.registry:  # importing twice (e.g. reloads) must not warn about re-registration
    # gym.make_vec(ENV_ID, num_envs=n) then builds the jit(vmap) WorldSimVectorEnv, not n separate envs.
    # max_steps=None + max_episode_steps: gym.make's TimeLimit truncates (so max_episode_steps=N in gym.make sets the
    # episode length, and env.spec.max_episode_steps says it); gym.make_vec passes it to the vector env.
    gym.register(id=ENV_ID, entry_point="worldsim.envs.gym_env:WorldSimEnv",
                 vector_entry_point="worldsim.envs.vector_env:WorldSimVectorEnv", nondeterministic=False,
                 max_episode_steps=100, kwargs={"max_steps": None})

__all__ = [
    "ENV_ID", "EnvParams", "FunctionalEnv", "Goal", "NoTask", "ReachGoal", "Task", "WorldSimDmEnv", "WorldSimEnv",
    "WorldSimVectorEnv", "env_params",
]
