"""Run every figure once, print a table against its goal, write JSON."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable
from pathlib import Path

import jax

from worldsim.bench import figures, latency, timing, worldgen

# figure -> (what, with the sizes the figure ran at filled in from its result; goal as text; passes(ratio))
GOALS = {
    "P1": ("cached step vs whole-context recompute at context {context} (speed-up)", ">= 10x", lambda r: r >= 10),
    "P2": ("step time at t = {late} / t = {early}", "<= 1.2", lambda r: r <= 1.2),
    "P3": ("batched rollout (B = {batch}) FLOP/s / f32 matmul FLOP/s", ">= 40%", lambda r: r >= 0.4),
    "P4": ("training step (B = {batch}, T = {frames}) FLOP/s / f32 matmul FLOP/s", ">= 40%", lambda r: r >= 0.4),
    "latency": ("first step from a fresh process: cold / warm compilation cache (s)", "(reported)", None),
    "worlds": ("world generation frames/s: worldsim / pymunk + numpy (100 substeps)", ">= 10x", lambda r: r >= 10),
}


def run_bench(model: str = "default", out: str | Path | None = None, quick: bool = False,
              log: Callable[[str], None] = print) -> dict:
    """All figures; quick=True shrinks batch sizes and skips latency (a smoke run for tests)."""
    import worldsim as ws

    wm = ws.load(model)
    res = {"meta": {"model": model, "quick": quick, "jax": jax.__version__, "backend": jax.default_backend(),
                    "device": str(jax.devices()[0]), "cpus": os.cpu_count(), "python": platform.python_version(),
                    "loadavg_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}}
    ref = timing.matmul_rate(1024 if quick else 2048)
    res["matmul_flop_per_s"] = ref
    log(f"reference: f32 matmul {ref / 1e9:.1f} GFLOP/s on {res['meta']['device']}")
    p1 = figures.cache_speedup(wm, context=8 if quick else 32, reps=2 if quick else 5)
    res["P1"] = {**p1}
    p2 = figures.step_flatness(wm, early=4 if quick else 16, late=32 if quick else 512, reps=2 if quick else 5)
    res["P2"] = {**p2}
    p3 = figures.rollout_rate(wm, batch=8 if quick else 256, reps=1 if quick else 3)
    res["P3"] = {**p3, "ratio": p3["flop_per_s"] / ref}
    p4 = figures.train_rate(batch=2 if quick else 16, frames=9 if quick else 16, reps=1 if quick else 3)
    res["P4"] = {**p4, "ratio": p4["flop_per_s"] / ref}
    if not quick:
        res["latency"] = latency.first_step_latency(model)
    w = worldgen.speedup(batch=16 if quick else 256, clips=2 if quick else 8, reps=1 if quick else 3)
    res["worlds"] = w
    log(table(res))
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(res, indent=1))
        log(f"wrote {out}")
    return res


def table(res: dict) -> str:
    """The figures against their goals. A quick run's sizes are too small for the goals to mean anything: its rows
    name the sizes it ran at and are not judged ("-" in the met column)."""
    quick = bool(res.get("meta", {}).get("quick"))
    rows = ["| figure | what | measured | goal | met |", "| --- | --- | --- | --- | --- |"]
    for name, (what, goal, ok) in GOALS.items():
        r = res.get(name)
        if r is None:
            continue
        what = what.format(**r)
        if name == "latency":
            measured, met = f"{r['cold_s']:.1f} s / {r['warm_s']:.1f} s", "-"
        elif r.get("ratio") is None:
            measured, met = "pymunk not installed", "-"
        elif ok is None:
            measured, met = f"{r['ratio']:.2f}", "-"
        else:
            ratio = r["ratio"]
            measured = f"{100 * ratio:.1f}%" if name in ("P3", "P4") else f"{ratio:.2f}"
            met = "-" if quick else "yes" if ok(ratio) else "no"
        rows.append(f"| {name} | {what} | {measured} | {goal} | {met} |")
    p1 = res["P1"]
    detail = (f"\nP1: cached {p1['cached_ms']:.1f} ms vs recompute {p1['recompute_ms']:.1f} ms per frame (outputs "
              f"differ by {p1['max_output_diff']:.1e}); the transformer alone, without the frame head's sampling: "
              f"{p1.get('transformer_cached_ms', float('nan')):.1f} vs {p1.get('transformer_recompute_ms', float('nan')):.1f} ms "
              f"({p1.get('transformer_ratio', float('nan')):.1f}x); P2: {res['P2']['early_ms']:.1f} ms at "
              f"t={res['P2']['early']} vs {res['P2']['late_ms']:.1f} ms at t={res['P2']['late']}; P3: "
              f"{res['P3']['flop_per_s'] / 1e9:.1f} GFLOP/s ({res['P3']['step_ms']:.0f} ms per step of "
              f"{res['P3']['batch']}); P4: {res['P4']['flop_per_s'] / 1e9:.1f} GFLOP/s ({res['P4']['step_ms']:.0f} "
              f"ms per step); matmul {res['matmul_flop_per_s'] / 1e9:.1f} GFLOP/s")
    if quick:
        detail += "\nquick run (smoke sizes): not judged against the goals; `worldsim bench` measures them"
    return "\n".join(rows) + detail
