"""`Report`: the result of `evaluate`, as plain data with JSON, Markdown and plot views.

report.data (and to_dict(), JSON-safe):
  model_name, suite (the Suite's fields), columns (COLUMNS), seconds, skipped {family: reason}, warnings [str]
  worlds[world][split]: measures[column][name], scores[column][name] (normalised: 1 = floor, 0 = copy-last),
      clips, gravity, elastic, and with the physics family: curves[name][column] (per generated frame: ade,
      energy_ratio, momentum_err), horizon_per_clip[column], tracks (truth: pos/present/colour of clip 0; column:
      tracked centres of clip 0)
  text[world][model|oracle], actions[world][model|copy_last|oracle], voe[world][kind], latents[world][model|
      random_encoder|pixels]: present when the suite and the predictor ran them
Units: world units (the box is [0, 1]^2), seconds. In to_dict / JSON, NaN is null and +-inf is "inf" / "-inf".
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np


COLUMNS = ("model", "copy_last", "cv_tracked", "cv_true", "oracle")
COLUMN_LABELS = {
    "model": "model", "copy_last": "copy-last", "cv_tracked": "const. vel. (tracked)",
    "cv_true": "const. vel. (true state)", "oracle": "floor (oracle)",
}
# Measures put on the copy-last..floor scale. For the higher-is-better ones (HIGHER) the formula flips numerator
# and denominator alike, so it still reads 1 = floor, 0 = copy-last. Left out: the integrity measures (a frozen
# frame keeps every ball whole, so copy-last scores them perfectly and the scale means nothing) and PSNR (its floor
# is inf). A measure is scored only where copy-last is worse than the floor (evaluate.scaled).
HIGHER = ("horizon", "ssim")
SCORED = ("vel_err", "vel_err_post", "vel_err_pre", "ade", "fde", "law_err", "momentum_err", "energy_err", "mse", *HIGHER)


def jsonable(x):
    """numpy arrays and scalars -> lists and Python numbers, tuples -> lists, recursively (NaN and inf kept)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer, int)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        return float(x)
    return x


def _encode(x):
    if isinstance(x, dict):
        return {k: _encode(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_encode(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return x


def _decode(x):
    if isinstance(x, dict):
        return {k: _decode(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_decode(v) for v in x]
    if x is None:
        return float("nan")
    if x in ("inf", "-inf"):
        return float(x)
    return x


class Report:
    """An evaluation's results (see the module doc for the layout of .data)."""

    def __init__(self, data: dict):
        if not isinstance(data, dict) or "model_name" not in data or "worlds" not in data:
            raise ValueError("not an evaluation report: expected a dict with 'model_name' and 'worlds' "
                             "(made by worldsim.probes.evaluate or Report.to_dict)")
        self.data = data

    def __repr__(self):
        ws = ", ".join(f"{w}[{len(s)}]" for w, s in self.data["worlds"].items())
        return f"Report(model={self.data['model_name']!r}, worlds: {ws or 'none'})"

    def measures(self, world: str, split: str = "id", column: str = "model") -> dict:
        """The measures of one column on one world/split."""
        try:
            return self.data["worlds"][world][split]["measures"][column]
        except KeyError:
            have = [f"{w}/{s}" for w, ss in self.data["worlds"].items() for s in ss]
            raise ValueError(f"no {column!r} measures for {world}/{split}: the report has {', '.join(have) or 'none'} "
                             f"and columns {', '.join(COLUMNS)}") from None

    def score(self, world: str, measure: str, split: str = "id", column: str = "model") -> float:
        """Normalised score of one measure (1 = the floor, 0 = copy-last, < 0 worse than copy-last)."""
        self.measures(world, split, column)
        return self.data["worlds"][world][split]["scores"][column].get(measure, float("nan"))

    def to_dict(self) -> dict:
        """JSON-safe copy: NaN -> None, +-inf -> 'inf' / '-inf'."""
        return _encode(self.data)

    @classmethod
    def from_dict(cls, d: dict) -> "Report":
        return cls(_decode(d))

    def to_json(self, path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1, allow_nan=False))
        return path

    @classmethod
    def from_json(cls, path) -> "Report":
        return cls.from_dict(json.loads(Path(path).read_text()))

    def to_markdown(self) -> str:
        from worldsim.probes.report_markdown import markdown

        return markdown(self.data)

    def save(self, outdir) -> list[Path]:
        """outdir/report.json, outdir/report.md and the plots under outdir/plots; returns every path written."""
        out = Path(outdir)
        out.mkdir(parents=True, exist_ok=True)
        md = out / "report.md"
        md.write_text(self.to_markdown())
        return [self.to_json(out / "report.json"), md, *self.plots(out / "plots")]

    def plots(self, outdir) -> list[Path]:
        """Write the report's PNG figures to outdir; returns their paths."""
        from worldsim.probes.report_plots import plot_all

        return plot_all(self.data, outdir)
