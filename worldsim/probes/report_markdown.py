"""Markdown view of a report: a summary, then per world and split a table (rows = measures, columns = the model,
its normalised score, the baselines and the floor), then the capability checks."""

from __future__ import annotations

import math

from worldsim.probes.report import COLUMN_LABELS, COLUMNS

# (key, row label); units: world units (box = 1), seconds. Rows whose values are all NaN are left out.
ROWS = (
    ("vel_err", "velocity error (u/s)"),
    ("vel_err_post", "velocity error, post-collision (u/s)"),
    ("ade", "ADE (u)"),
    ("fde", "FDE (u)"),
    ("horizon", "valid horizon (frames)"),
    ("law_err", "law fit |a - g| / g"),
    ("momentum_err", "momentum drift |dP| / P0"),
    ("energy_err", "energy drift |dE| / E0"),
    ("count_acc", "count accuracy"),
    ("colour_acc", "colour accuracy"),
    ("swap_rate", "colour swap rate"),
    ("jump_rate", "jump rate"),
    ("radius_err", "radius error (relative)"),
    ("radius_drift", "radius drift (relative)"),
    ("coverage", "coverage"),
    ("mse", "MSE"),
    ("psnr", "PSNR (dB)"),
    ("ssim", "SSIM"),
)
CONSERVED = ("momentum_err", "energy_err")  # only meaningful in elastic, undriven worlds


def fmt(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if isinstance(x, float) and math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"  # also -0.0 (a score of exactly copy-last)
    if isinstance(x, int) or (isinstance(x, float) and x.is_integer() and abs(x) >= 1):
        return f"{x:g}"
    return f"{x:.3g}"


def _cells(cells: list[str]) -> str:
    """One table row; a '|' inside a cell (as in |dP|) is escaped, or it would split the cell."""
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [_cells(header), "|" + "---|" * len(header), *(_cells(r) for r in rows)]


def split_table(entry: dict) -> list[str]:
    m, s = entry["measures"], entry["scores"]
    rows = []
    for key, label in ROWS:
        vals = [m[c].get(key, float("nan")) for c in COLUMNS]
        if all(isinstance(v, float) and math.isnan(v) for v in vals) or (key in CONSERVED and not entry["elastic"]):
            continue
        rows.append([label, fmt(vals[0]), fmt(s["model"].get(key)), *(fmt(v) for v in vals[1:])])
    return _table(["measure", COLUMN_LABELS["model"], "score", *(COLUMN_LABELS[c] for c in COLUMNS[1:])], rows)


def summary(data: dict) -> list[str]:
    rows = []
    for w, splits in data["worlds"].items():
        for sp, e in splits.items():
            sc, m = e["scores"]["model"], e["measures"]
            rows.append([w, sp, str(e["clips"]), *(fmt(sc.get(k)) for k in ("vel_err", "vel_err_post", "ade", "mse")),
                         f"{fmt(m['model'].get('horizon'))} / {fmt(m['oracle'].get('horizon'))}"])
    head = ["world", "split", "clips", "score vel", "score vel post", "score ADE", "score MSE", "horizon model / floor"]
    return _table(head, rows) if rows else ["(no world/split was scored)"]


def capabilities(data: dict) -> list[str]:
    out = []
    if data.get("text"):
        out += ["", "## Text conditioning (first frame from the caption)", ""]
        keys = ("match_acc", "count_acc", "colour_acc", "region_acc")
        out += _table(["world", *(f"{k} model / floor" for k in keys), "n"],
                      [[w, *(f"{fmt(r['model'][k])} / {fmt(r['oracle'][k])}" for k in keys), fmt(r["model"]["n"])]
                       for w, r in data["text"].items()])
    if data.get("actions"):
        out += ["", "## Action following (push +d vs -d, response > 0.5 px)", ""]
        cols = ("model", "copy_last", "oracle")
        out += _table(["world", *(f"{c} follow / response px" for c in cols), "n"],
                      [[w, *(f"{fmt(r[c]['follow_acc'])} / {fmt(r[c]['response_px'])}" for c in cols),
                        fmt(r["model"]["n"])] for w, r in data["actions"].items()])
    if data.get("voe"):
        out += ["", "## Violation of expectation (chance = 0.5)", ""]
        out += _table(["world", "kind", "pairwise accuracy", "AUROC", "pairs"],
                      [[w, k, fmt(r["pairwise_accuracy"]), fmt(r["auroc"]), fmt(r["n_pairs"])]
                       for w, kinds in data["voe"].items() for k, r in kinds.items()])
    if data.get("latents"):
        out += ["", "## Latent linear probes (ridge, split by trajectory; test R^2)", ""]
        cols = ("model", "random_encoder", "pixels")
        out += _table(["world", *(f"{c} pos / vel" for c in cols)],
                      [[w, *(f"{fmt(r[c]['pos_r2'])} / {fmt(r[c]['vel_r2'])}" for c in cols)]
                       for w, r in data["latents"].items()])
    return out


def markdown(data: dict) -> str:
    suite = data.get("suite", {})
    out = [f"# Physics report: {data['model_name']}", "",
           f"Suite {suite.get('name', '?')}: {suite.get('context', '?')} conditioning + {suite.get('horizon', '?')} "
           f"generated frames at {suite.get('resolution', '?')}x{suite.get('resolution', '?')}; world units (box = 1). "
           "Score = (copy-last - model) / (copy-last - floor): 1 = floor, 0 = copy-last, < 0 worse.", ""]
    out += summary(data)
    for w, splits in data["worlds"].items():
        out += ["", f"## {w}"]
        for sp, e in splits.items():
            out += ["", f"### {w} / {sp} ({e['clips']} clips)", "", *split_table(e)]
    out += capabilities(data)
    if data.get("skipped"):
        out += ["", "## Not run", "", *(f"- {k}: {v}" for k, v in data["skipped"].items())]
    if data.get("warnings"):
        out += ["", "## Warnings", "", *(f"- {w}" for w in data["warnings"])]
    if "seconds" in data:
        out += ["", f"Evaluated in {data['seconds']:.0f} s."]
    return "\n".join(out) + "\n"
