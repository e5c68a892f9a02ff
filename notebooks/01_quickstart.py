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
# # 01 — Quickstart: step a learned world
#
# Load the shipped model, start a simulation from a caption and three real frames of the push world, step it,
# roll it out, fork it into four futures, look at the video, and read the physical state (ball positions and
# velocities) straight out of the simulator's latents.
#
# Everything this notebook writes goes to one temporary folder.

# %%
import tempfile
from pathlib import Path

import jax
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display

import worldsim as ws

OUT = Path(tempfile.mkdtemp(prefix="worldsim_quickstart_"))
key = jax.random.key(0)

# %% [markdown]
# ## The model
#
# `ws.load("default")` is the shipped tokenizer (64x64 frames <-> a small latent grid) and latent dynamics
# transformer. `ws.load(path)` loads one you trained (notebook 04).

# %%
model = ws.load("default")
print("source:", model.source)
print("frames:", model.resolution, "x", model.resolution, "RGB; actions:", model.action_dim, "numbers per step")
print("latent frame:", model.latent_shape, "; physics readout:", model.has_state_head)
print("sampling:", model.sampling)

# %% [markdown]
# ## A real clip to start from
#
# The push world: you push the red ball with a 2-D force each frame; the others bounce around. `sample` gives
# frames, the exact states, the actions taken and a caption.

# %%
world = ws.worlds.make("push", resolution=model.resolution, num_frames=16)
ep = world.sample(jax.random.key(1), batch_size=1)
caption = ep.captions[0]
frames, actions = np.asarray(ep.frames[0]), np.asarray(ep.actions[0])  # (16, 64, 64, 3) uint8, (16, 2)
print(caption)

# %% [markdown]
# ## reset, step, rollout
#
# `reset` starts from the caption and the first 3 frames (with the 2 actions taken between them); the last
# given frame is the current one. `step` applies one action; `rollout` applies a sequence in one compiled
# `lax.scan`. States are immutable values: stepping returns a new one.

# %%
sim = ws.Simulator(model)
state = sim.reset(key, prompt=caption, frames=frames[:3], actions=actions[:2])
state, out = sim.step(state, actions[2], key)
print("after one step: t =", int(state.t), "frame", out.frame.shape, out.frame.dtype)

state, outs = sim.rollout(state, actions[3:15], key)
predicted = np.concatenate([out.frames, outs.frame])  # (13, 64, 64, 3): frames 3..15 of the clip
truth = frames[3:16]
print("rolled out to t =", int(state.t), "; predicted", predicted.shape)

# %% [markdown]
# ## The video: prediction | truth
#
# A GIF of the prediction beside the real frames, and a contact sheet of every third frame with the tracked ball
# paths drawn on (`ws.probes.track` finds each colour's centroid).

# %%
video = ws.viz.side_by_side(predicted, truth)  # (13, 64, 130, 3)
gif = ws.io.write_video(OUT / "prediction_vs_truth.gif", video.repeat(2, 1).repeat(2, 2), fps=8)
display(Image(filename=str(gif)))

clips = np.stack([predicted, truth])  # (2, 13, 64, 64, 3)
sheet = ws.viz.contact_sheet(clips, every=3, tracks=ws.probes.track(clips).pos, colours=ws.worlds.COLOURS,
                             labels=["simulated", "real"])
png = ws.io.write_image(OUT / "prediction_vs_truth.png", sheet)
display(Image(filename=str(png)))

# %% [markdown]
# ## fork: four futures from one state
#
# `ws.fork(state, n)` stacks n copies along a new leading axis; the simulator steps a batch of states as it
# steps one. Here each branch pushes the red ball a different way for 8 frames.

# %%
pushes = np.array([[1, 0], [-1, 0], [0, -1], [0, 1]], np.float32)  # right, left, up, down (y points down)
names = ["right", "left", "up", "down"]
branches = ws.fork(state, 4)
plan = np.repeat(pushes[:, None], 8, axis=1)  # (4, 8, 2): one action sequence per branch
branches, bouts = sim.rollout(branches, plan, key)
print("branch frames:", bouts.frame.shape)  # (4, 8, 64, 64, 3)

futures = ws.viz.contact_sheet(bouts.frame, every=1, labels=[f"push {n}" for n in names])
display(Image(filename=str(ws.io.write_image(OUT / "forks.png", futures))))

# %% [markdown]
# ## The physics readout
#
# Every step also reads the physical state from the latents: per colour slot (`ws.worlds.COLOUR_NAMES`), the
# probability a ball of that colour is present, its position (world units: the box is [0, 1]^2, y down) and its
# velocity. No frame needs decoding for this: planners use it with `decode=False` (notebook 03).

# %%
r = bouts.readout  # present (4, 8, 6), pos (4, 8, 6, 2), vel (4, 8, 6, 2)
for b, n in enumerate(names):
    shown = np.asarray(r.present[b, -1]) > 0.5  # colours this branch believes are in the frame
    balls = ", ".join(
        f"{c} at ({r.pos[b, -1, i, 0]:.2f}, {r.pos[b, -1, i, 1]:.2f}) moving ({r.vel[b, -1, i, 0]:+.2f}, "
        f"{r.vel[b, -1, i, 1]:+.2f})/s"
        for i, c in enumerate(ws.worlds.COLOUR_NAMES) if shown[i])
    print(f"push {n:5s}: {balls}")

fig, ax = plt.subplots(figsize=(4, 4))
for b, n in enumerate(names):
    xy = np.asarray(r.pos[b, :, 0])  # the red ball's readout path in this branch
    ax.plot(xy[:, 0], xy[:, 1], "o-", ms=3, label=f"push {n}")
start = np.asarray(sim.readout(state).pos[0])
ax.plot(*start, "k*", ms=12, label="now")
ax.set(xlim=(0, 1), ylim=(1, 0), aspect="equal", title="red ball, read from the latents", xlabel="x", ylabel="y")
ax.legend(fontsize=8)
fig.savefig(OUT / "readout.png", dpi=100)
plt.show()

# %%
print("files written to", OUT, ":", sorted(p.name for p in OUT.iterdir()))
