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
# # 04 — Train your own world model
#
# The whole pipeline at toy scale: write a folder of videos (with optional caption and action sidecars), train a
# tiny tokenizer (frames <-> latents), train a tiny dynamics model on the latents, load the pair with `ws.load`
# and step it like the shipped one.
#
# The `tiny` presets and a few dozen steps keep this to about a minute: far too little to learn the worlds (the
# tokenizer barely gets past the dark background, so the rollout at the end is a smudge), but every piece is the
# real one. For a usable model use the `small` presets (hours on CPU) or the CLI:
# `worldsim train tokenizer --preset small --workdir ...`, then `worldsim train dynamics ...`.
#
# Everything goes to one temporary folder.

# %%
import dataclasses
import json
import tempfile
from pathlib import Path

import jax
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display

import worldsim as ws
from worldsim.train.dynamics import DynamicsTrainConfig, train as train_dynamics
from worldsim.train.tokenizer import TokenizerTrainConfig, train as train_tokenizer

ROOT = Path(tempfile.mkdtemp(prefix="worldsim_train_"))
RES = 32  # the tiny tokenizer's frame size

# %% [markdown]
# ## Your videos
#
# Any folder of `.mp4` / `.gif` files works (they are resized to the model's resolution). Next to `NAME.gif`, an
# optional `NAME.txt` holds its caption (at most `max_text_bytes` UTF-8 bytes, 64 for the tiny model; longer
# ones are cut at a word) and `NAME.actions.npy` a float (T, 2) array of the action taken at each
# frame. Here the "videos" are push-world clips written by the notebook itself.

# %%
videos = ROOT / "videos"
world = ws.worlds.make("push", resolution=RES, num_frames=12)
ep = world.sample(jax.random.key(0), batch_size=6)
for i in range(6):
    ws.io.write_video(videos / f"clip{i}.gif", ep.frames[i], fps=10)
    (videos / f"clip{i}.txt").write_text(ep.captions[i].split(":")[0])  # e.g. "Two balls, you push the red one"
    np.save(videos / f"clip{i}.actions.npy", np.asarray(ep.actions[i]))
print(sorted(p.name for p in videos.iterdir())[:6], "...")
display(Image(filename=str(ws.io.write_image(ROOT / "videos.png", ws.viz.contact_sheet(ep.frames[:3], every=2)))))

# %% [markdown]
# ## 1. The tokenizer
#
# A causal spacetime-patch autoencoder, trained to reconstruct clips of the video folder (`worlds` adds clips of
# the built-in worlds to the mix). `train` checkpoints into its workdir (re-running resumes) and exports the
# final model to `WORKDIR/model`.

# %%
tok_cfg = dataclasses.replace(TokenizerTrainConfig.tiny(), worlds=(), video_folder=str(videos), video_clips=4,
                              steps=40, save_every=40, log_every=5)
tokenizer = train_tokenizer(tok_cfg, ROOT / "tokenizer", quiet=True)
tok_log = [json.loads(x) for x in (ROOT / "tokenizer" / "metrics.jsonl").read_text().splitlines()]
print(f"tokenizer: {tok_cfg.steps} steps, final reconstruction loss {tok_log[-1]['loss']:.4f} "
      f"(PSNR {tok_log[-1]['psnr']:.1f} dB); latents per frame {tokenizer.config.grid}x{tokenizer.config.grid}"
      f"x{tokenizer.config.latent_dim}")

# %% [markdown]
# ## 2. The dynamics
#
# The latent transformer, trained on the frozen tokenizer's latents: flow matching of the next latent frame,
# conditioned on the caption and the actions, plus the physics readout head where clips have ground-truth state
# (the world clips do; your videos do not, and that is fine).

# %%
dyn_cfg = DynamicsTrainConfig.tiny().replace(
    tokenizer=str(ROOT / "tokenizer" / "model"), worlds=("push",), video_folder=str(videos), video_clips=8,
    steps=40, save_every=40, val_every=0, sample_every=0)  # no validation or sample videos: seconds count here
dynamics = train_dynamics(dyn_cfg, ROOT / "dynamics", quiet=True)
dyn_log = [json.loads(x) for x in (ROOT / "dynamics" / "metrics.jsonl").read_text().splitlines()]
losses = [(r["step"], r["loss"]) for r in dyn_log if "loss" in r]
print(f"dynamics: {dyn_cfg.steps} steps, final loss {losses[-1][1]:.4f} (first logged {losses[0][1]:.4f})")

fig, axes = plt.subplots(1, 2, figsize=(8, 3))
axes[0].plot([r["step"] for r in tok_log], [r["loss"] for r in tok_log])
axes[0].set(title="tokenizer reconstruction loss", xlabel="step", yscale="log")
axes[1].plot(*zip(*losses))
axes[1].set(title="dynamics loss", xlabel="step")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 3. Load it and step it
#
# `ws.load(WORKDIR/model)` finds the tokenizer the dynamics export recorded, checks it is the same one (weights
# fingerprint), and returns a `WorldModel`, which the `Simulator` steps exactly as it steps the shipped one.
# (`ws.WorldModel(tokenizer, dynamics)` pairs in-memory models the same way.)

# %%
model = ws.load(ROOT / "dynamics" / "model")
print("source:", model.source, "; resolution", model.resolution, "; readout:", model.has_state_head)
sim = ws.Simulator(model)
key = jax.random.key(1)
clip = ws.io.read_video(videos / "clip0.gif", resolution=RES)  # (12, 32, 32, 3)
acts = np.load(videos / "clip0.actions.npy")
state = sim.reset(key, prompt=(videos / "clip0.txt").read_text(), frames=clip[:3], actions=acts[:2])
state, out = sim.step(state, acts[2], key)
state, outs = sim.rollout(state, acts[3:11], key)
predicted = np.concatenate([out.frames, outs.frame])  # frames 3..11
print("t =", int(state.t), "; red ball read out at", np.round(np.asarray(outs.readout.pos[-1, 0]), 2))
sheet = ws.viz.contact_sheet(np.stack([predicted, clip[3:12]]), every=1, labels=["tiny model", "video"])
display(Image(filename=str(ws.io.write_image(ROOT / "tiny_rollout.png", sheet))))

# %%
print("everything is under", ROOT)
