# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 — Agents: planning inside the simulator
#
# A planner imagines futures in the learned simulator and acts on the best one. Here: fork one state into many
# candidates, roll each out without decoding frames, score them with the physics readout; then close the loop
# with CEM model-predictive control in the *real* push world, re-planning from the last real frames every step.
#
# The settings are small so the notebook runs in a couple of minutes on 2 CPU cores;
# `experiments/planning/run.py` runs the full comparison.

# %%
import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import worldsim as ws
from worldsim import agents
from worldsim.envs.tasks import Goal
from worldsim.sim import Sampling

# %% [markdown]
# ## The model, set up for planning
#
# Planning compares candidates on one noise-free prediction each (temperature 0, the mean flow) and skips the
# reprojection the default model uses for long rollouts (a decode + encode per simulated step): planned horizons
# are short, and the planner simulates hundreds of steps per real one.

# %%
model = ws.load("default")
planner_model = ws.WorldModel(model.tokenizer, model.dynamics, source="default (planning)",
                              sampling=Sampling(temperature=0.0, reproject=False))
FLOW_STEPS = 2  # Euler steps per simulated frame (the model's default is more; fewer is cheaper)
world = ws.worlds.make("push", resolution=model.resolution)
trial = agents.Trial(max_steps=20, radius=0.1, context=3)  # success: red ball within 0.1 of the goal in 20 steps

# %% [markdown]
# ## Planning by hand: fork, roll out with `decode=False`, score with the readout
#
# A start from the real push world and a goal for the red ball. The simulator starts from three real frames
# (the ball held still before the first). `ws.fork` makes N copies; `rollout(..., decode=False)` simulates them
# all at once, returning the readout but no frames; the score is the task's reward (minus the red ball's distance
# to the goal) summed over the horizon.

# %%
s0, centre = agents.push.start(world.config, jax.random.key(7), trial)  # exact start state, goal centre (2,)
goal = Goal(centre, jnp.float32(trial.radius), 0)
start_frames = np.repeat(np.asarray(world.render(s0))[None], trial.context, axis=0)  # (3, 64, 64, 3)

N, H = 32, 8
sim = ws.Simulator(planner_model, steps=FLOW_STEPS)
state = sim.reset(jax.random.key(0), frames=start_frames, actions=np.zeros((trial.context - 1, 2)))
candidates = ws.fork(state, N)
plans = jax.random.uniform(jax.random.key(1), (N, H, 2), minval=-1.0, maxval=1.0)  # random action sequences
_, outs = sim.rollout(candidates, plans, jax.random.key(2), decode=False)
print("frames decoded:", outs.frames, "; readout positions:", outs.readout.pos.shape)  # (N, H, 6, 2)
scores = np.asarray(jnp.sum(goal.reward(outs.readout), axis=1))  # (N,) summed reward along each rollout
best = int(np.argmax(scores))
print(f"best of {N} random plans: candidate {best}, score {scores[best]:.2f} (worst {scores.min():.2f})")

# %% [markdown]
# Is the imagined best plan any good? Play it in the real world and compare.

# %%
real = jax.tree.map(lambda x: x[None], s0)  # the world steps batches: a batch of one
real_path = [np.asarray(s0.pos[0])]
for a in np.asarray(plans[best]):
    real = world.step(real, a[None])
    real_path.append(np.asarray(real.pos[0, 0]))
real_path = np.array(real_path)

fig, ax = plt.subplots(figsize=(4.5, 4.5))
for i in range(N):
    xy = np.asarray(outs.readout.pos[i, :, 0])
    ax.plot(xy[:, 0], xy[:, 1], color="0.75", lw=0.8)
xy = np.asarray(outs.readout.pos[best, :, 0])
ax.plot(xy[:, 0], xy[:, 1], "o-", color="C0", ms=3, label="best plan, imagined")
ax.plot(real_path[:, 0], real_path[:, 1], "s--", color="C3", ms=3, label="best plan, real world")
ax.add_patch(plt.Circle(np.asarray(centre), trial.radius, color="g", alpha=0.3, label="goal"))
ax.plot(*real_path[0], "k*", ms=12, label="start")
ax.set(xlim=(0, 1), ylim=(1, 0), aspect="equal", title=f"{N} imagined futures of the red ball")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## CEM model-predictive control in the real push world
#
# `agents.learned_planner` does the above inside one jitted function, with the cross-entropy method: sample
# candidates around a Gaussian plan, refit it to the best (elites), repeat; act with the first action; next step,
# start again from the new real frames (warm-started with the shifted plan). `agents.true_planner` runs the same
# CEM on the exact world physics from the exact state: the upper baseline.
#
# The loop below is what `agents.episode` runs, written out to keep the ball's path.

# %%
cem = agents.CEMConfig(horizon=6, candidates=12, elites=3, iterations=2)
policies = {
    "CEM in the learned simulator": agents.learned_planner(planner_model, cem, temperature=0.0, steps=FLOW_STEPS),
    "CEM on the true physics": agents.true_planner(world.config, cem),
}


def run_episode(policy, key):
    """One trial -> (success, path of the red ball (T + 1, 2), goal centre)."""
    k_start, k_act = jax.random.split(key)
    s, centre = agents.push.start(world.config, k_start, trial)
    goal = Goal(centre, jnp.float32(trial.radius), 0)
    states = jax.tree.map(lambda x: x[None], s)  # the world steps batches: a batch of one
    frames = jnp.repeat(world.render(s)[None], trial.context, axis=0)  # the last real frames, oldest first
    acts = jnp.zeros((trial.context - 1, world.action_dim), jnp.float32)  # the actions between them
    carry, path = policy.carry, [np.asarray(s.pos[0])]
    for t in range(trial.max_steps):
        if np.linalg.norm(path[-1] - np.asarray(centre)) < trial.radius:
            break
        a, carry = policy.act(jax.random.fold_in(k_act, t), agents.Observation(s, frames, acts), goal, carry)
        states = world.step(states, a[None])
        s = jax.tree.map(lambda x: x[0], states)
        frames = jnp.concatenate([frames[1:], world.render(s)[None]])
        acts = jnp.concatenate([acts[1:], a[None]])
        path.append(np.asarray(s.pos[0]))
    path = np.array(path)
    return bool(np.linalg.norm(path[-1] - np.asarray(centre)) < trial.radius), path, np.asarray(centre)


EPISODES = 2
results = {}
for name, policy in policies.items():
    t0 = time.time()
    results[name] = [run_episode(policy, k) for k in jax.random.split(jax.random.key(42), EPISODES)]
    wins = sum(r[0] for r in results[name])
    steps = sum(len(r[1]) - 1 for r in results[name])
    print(f"{name}: success {wins}/{EPISODES} ({steps} real steps, {time.time() - t0:.0f} s)")

# %% [markdown]
# ## The agent ball's path vs the goal

# %%
fig, axes = plt.subplots(1, EPISODES, figsize=(4 * EPISODES, 4), squeeze=False)
for e, ax in enumerate(axes[0]):
    for (name, runs), style in zip(results.items(), ["o-", "s--"]):
        ok, path, centre = runs[e]
        ax.plot(path[:, 0], path[:, 1], style, ms=3, label=f"{name} ({'reached' if ok else 'missed'})")
    ax.add_patch(plt.Circle(centre, trial.radius, color="g", alpha=0.3))
    ax.plot(*path[0], "k*", ms=12)
    ax.set(xlim=(0, 1), ylim=(1, 0), aspect="equal", title=f"episode {e}: start * , goal disc")
    ax.legend(fontsize=7, loc="lower left")
plt.show()
