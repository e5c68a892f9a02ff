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
# # 02 — Physics probes: does the simulator obey the laws?
#
# The physics-fidelity protocol of [worldsim/docs/eval.md](../worldsim/docs/eval.md), run through `ws.probes.evaluate`: held-out
# clips of every world and
# out-of-distribution split, the first 3 frames given, 16 generated, then velocity, position, law-fit,
# conservation, integrity and pixel measures on what the model generates, beside copy-last, constant velocity
# (from tracked pixels and from the true state) and the tracker floor. A normalised score puts each measure on
# one scale: 1 = the floor, 0 = copy-last, below 0 = worse than copy-last.

# %%
import tempfile
from pathlib import Path

from IPython.display import Image, Markdown, display

import worldsim as ws

SUITE = "quick"  # one world, 4 short clips: ~2 minutes on 2 CPU cores with the default model.
# SUITE = "standard"  # every world and OOD split, 16 clips of 3 + 16 frames each: many times longer

# %% [markdown]
# ## The model
#
# Anything that follows `ws.probes.Predictor` can be evaluated: a `name`, a `resolution` and
# `continue_frames(frames, actions, captions, num_frames, key)`; `first_frames`, `surprise` and `latents`, when
# present, unlock the text-conditioning, violation-of-expectation and latent-probe checks.

# %%
# >>> MODEL CELL: the shipped model, ws.load("default") wrapped as a Predictor. Swap in your own:
#     predictor = ws.probes.from_model("path/to/model")          # a model you trained (notebook 04)
#     predictor = ws.probes.CopyLast(resolution=64)              # a baseline, through the same harness
predictor = ws.probes.from_model("default")
print(predictor.name, "at", predictor.resolution, "x", predictor.resolution)

# %%
report = ws.probes.evaluate(predictor, SUITE)
report

# %% [markdown]
# ## The report
#
# One table per world and split: rows are measures (world units: the box is 1 wide; seconds), columns the model,
# its normalised score, the baselines and the floor.

# %%
display(Markdown(report.to_markdown()))

# %% [markdown]
# ## Plots
#
# Tracked trajectories of one clip, position error against the generated horizon, energy and momentum over time
# (elastic worlds), and, for models with `surprise`, its distribution on possible vs impossible clips.

# %%
out = Path(tempfile.mkdtemp(prefix="worldsim_probes_"))
for path in report.save(out):
    if path.suffix == ".png":
        display(Image(filename=str(path)))
print("report written to", out)

# %% [markdown]
# ## Reading one number
#
# `report.measures(world, split, column)` and `report.score(world, measure, split)` give single values;
# `report.to_dict()` is the whole report as JSON-ready data.

# %%
m = report.measures("bouncing_balls")
print(f"velocity error {m['vel_err']:.3f} u/s, ADE {m['ade']:.4f} u, valid horizon {m['horizon']:.1f} frames")
print("normalised score (ADE):", report.score("bouncing_balls", "ade"))
