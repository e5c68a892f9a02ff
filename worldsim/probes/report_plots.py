"""PNG figures of a report, drawn from its data alone (so a report loaded from JSON plots the same).

Per world: trajectories (clip 0 of the ID split, x and y over frames), position error against the generated
horizon (one panel per split), energy and momentum over the generated frames (elastic worlds), and the surprise
of possible vs impossible clips (when VoE ran). matplotlib's Figure API is used directly, so nothing changes the
caller's pyplot backend.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from worldsim.probes.report import COLUMN_LABELS, COLUMNS

# Palette colours darkened where pure ones vanish on white (yellow, cyan, green).
BALL_COLOURS = ("#e41a1c", "#1a9641", "#2b5cd6", "#b8960b", "#c51b8a", "#0f9aa8")
STYLE = {"model": "--", "copy_last": ":", "cv_tracked": "-.", "cv_true": (0, (1, 3)), "oracle": "-"}
LINE = {"model": "#d95f02", "copy_last": "#7f7f7f", "cv_tracked": "#1b9e77", "cv_true": "#7570b3", "oracle": "#000000"}


def _arr(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def _first_split(splits: dict) -> str:
    return "id" if "id" in splits else next(iter(splits))


def trajectories(world: str, entry: dict, c: int, path: Path) -> Path:
    tr, truth = entry["tracks"], entry["tracks"]["truth"]
    pos, present, colour = _arr(truth["pos"]), np.asarray(truth["present"], bool), np.asarray(truth["colour"], int)
    t = np.arange(pos.shape[0])
    fig = Figure(figsize=(10, 4))
    for i, axis in enumerate("xy"):
        ax = fig.add_subplot(1, 2, i + 1)
        for k in np.flatnonzero(present[0]):
            col = BALL_COLOURS[colour[k] % len(BALL_COLOURS)]
            ax.plot(t, np.where(present[:, k], pos[:, k, i], np.nan), "-", color=col, lw=2.2, alpha=0.45)
            for name in ("model", "cv_tracked", "copy_last"):
                ax.plot(t, _arr(tr[name])[:, k, i], linestyle=STYLE[name], color=col, lw=1.3)
        ax.axvline(c - 0.5, color="0.5", lw=0.8)
        ax.set(xlabel="frame", ylabel=f"{axis} (world units)", title=f"{axis}(t)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if axis == "y":
            ax.invert_yaxis()  # image rows: y grows downward
    handles = [ax.plot([], [], "-", color="0.3", lw=2.2, alpha=0.45)[0]] + [
        ax.plot([], [], linestyle=STYLE[n], color="0.3")[0] for n in ("model", "cv_tracked", "copy_last")]
    fig.legend(handles, ["truth (exact)", "model", COLUMN_LABELS["cv_tracked"], COLUMN_LABELS["copy_last"]],
               loc="upper center", ncol=4, frameon=False)
    fig.suptitle(f"{world}: clip 0 tracked centres (one colour per ball; grey line = first generated frame)", y=0.0,
                 va="bottom", fontsize=9)
    fig.subplots_adjust(top=0.82)
    return _save(fig, path)


def error_horizon(world: str, splits: dict, res: int, path: Path) -> Path:
    names = [s for s, e in splits.items() if "curves" in e]
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig = Figure(figsize=(4.2 * cols, 3.2 * rows))
    for i, sp in enumerate(names):
        ax = fig.add_subplot(rows, cols, i + 1)
        for col in COLUMNS:
            y = _arr(splits[sp]["curves"]["ade"][col]) * res
            ax.plot(np.arange(1, y.size + 1), y, linestyle=STYLE[col], color=LINE[col], label=COLUMN_LABELS[col])
        ax.set(title=f"{world} / {sp}", xlabel="generated frame", ylabel="position error (px)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.axes[0].legend(fontsize=7)
    return _save(fig, path)


def conservation(world: str, entry: dict, path: Path) -> Path:
    fig = Figure(figsize=(10, 3.6))
    for i, (key, label) in enumerate((("energy_ratio", "energy E / E0"), ("momentum_err", "momentum |P - P_true| / |P0|"))):
        ax = fig.add_subplot(1, 2, i + 1)
        for col in COLUMNS:
            y = _arr(entry["curves"][key][col])
            ax.plot(np.arange(1, y.size + 1), y, linestyle=STYLE[col], color=LINE[col], marker=".", ms=3,
                    label=COLUMN_LABELS[col])
        ax.axhline(1.0 if key == "energy_ratio" else 0.0, color="0.6", lw=0.8)
        ax.set(title=f"{world}: {label}", xlabel="generated frame")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.axes[0].legend(fontsize=7)
    return _save(fig, path)


def surprise(world: str, kinds: dict, path: Path) -> Path:
    fig = Figure(figsize=(max(5.0, 2.4 * len(kinds) + 1.2), 3.8))
    ax = fig.add_subplot(1, 1, 1)
    rng = np.random.default_rng(0)
    for i, (kind, r) in enumerate(kinds.items()):
        for j, (label, colour) in enumerate((("possible", "#1b9e77"), ("impossible", "#d95f02"))):
            y = _arr(r[label])
            x = 3 * i + j + rng.uniform(-0.18, 0.18, y.size)
            ax.scatter(x, y, s=14, color=colour, alpha=0.7, label=label if i == 0 else None)
            ax.hlines(np.median(y), 3 * i + j - 0.3, 3 * i + j + 0.3, color=colour, lw=2)
    # Scores go in the tick labels and the legend outside the axes: neither may cover the points.
    ax.set_xticks([3 * i + 0.5 for i in range(len(kinds))],
                  [f"{k}\nacc {r['pairwise_accuracy']:.2f}, AUROC {r['auroc']:.2f}" for k, r in kinds.items()], fontsize=8)
    ax.set(ylabel="surprise (max after the violation)", title=f"{world}: surprise, possible vs impossible")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _save(fig, path)


def plot_all(data: dict, outdir) -> list[Path]:
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    suite, paths = data.get("suite", {}), []
    c, res = suite.get("context", 1), suite.get("resolution", 64)
    for world, splits in data["worlds"].items():
        if not any("curves" in e for e in splits.values()):
            continue
        first = splits[_first_split(splits)]
        paths.append(trajectories(world, first, c, out / f"trajectories_{world}.png"))
        paths.append(error_horizon(world, splits, res, out / f"error_horizon_{world}.png"))
        if first["elastic"]:
            paths.append(conservation(world, first, out / f"conservation_{world}.png"))
    for world, kinds in data.get("voe", {}).items():
        paths.append(surprise(world, kinds, out / f"surprise_{world}.png"))
    return paths
