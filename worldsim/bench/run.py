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
    "worlds": ("world generation frames/s: worldsim / pymunk + numpy (100 substeps)", ">= 10x", lambda r: r >= 10),
}


# start-up probe -> (what, goal in seconds for the warm median, or for the cold run where cold is what counts)
STARTUP_GOALS = {
    "first_frame": ("first frame of ws.Simulator in a fresh process (load, reset, one step)", "warm", 5.0),
    "play": ("`worldsim play` until its page answers", "warm", 10.0),
    "demo": ("`worldsim demo`, whole", "cold", 60.0),
}


def run_bench(model: str = "default", out: str | Path | None = None, quick: bool = False,
              log: Callable[[str], None] = print, startup_only: bool = False) -> dict:
    """All figures; quick=True shrinks batch sizes and skips the start-up probes (a smoke run for tests);
    startup_only=True runs only the start-up probes (worldsim.bench.latency)."""
    import worldsim as ws

    res = {"meta": {"model": model, "quick": quick, "jax": jax.__version__, "backend": jax.default_backend(),
                    "device": str(jax.devices()[0]), "cpus": os.cpu_count(), "python": platform.python_version(),
                    "loadavg_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}}
    if startup_only:
        res["startup"] = latency.startup(model, log=log)
        return _finish(res, out, log)
    log(f"loading the model ({model}) ...")
    wm = ws.load(model)
    log("measuring: f32 matmul reference ...")
    ref = timing.matmul_rate(1024 if quick else 2048)
    res["matmul_flop_per_s"] = ref
    log(f"reference: f32 matmul {ref / 1e9:.1f} GFLOP/s on {res['meta']['device']}")
    log("measuring: P1, cached step vs recompute (compiling both first) ...")
    p1 = figures.cache_speedup(wm, context=8 if quick else 32, reps=2 if quick else 5)
    res["P1"] = {**p1}
    log("measuring: P2, step time early vs late ...")
    p2 = figures.step_flatness(wm, early=4 if quick else 16, late=32 if quick else 512, reps=2 if quick else 5)
    res["P2"] = {**p2}
    log("measuring: P3, batched rollout FLOP/s ...")
    p3 = figures.rollout_rate(wm, batch=8 if quick else 256, reps=1 if quick else 3)
    res["P3"] = {**p3, "ratio": p3["flop_per_s"] / ref}
    log("measuring: P4, training step FLOP/s ...")
    p4 = figures.train_rate(batch=2 if quick else 16, frames=9 if quick else 16, reps=1 if quick else 3)
    res["P4"] = {**p4, "ratio": p4["flop_per_s"] / ref}
    log("measuring: world generation vs pymunk ...")
    w = worldgen.speedup(batch=16 if quick else 256, clips=2 if quick else 8, reps=1 if quick else 3)
    res["worlds"] = w
    if not quick:
        res["startup"] = latency.startup(model, log=log)
    return _finish(res, out, log)


def _finish(res: dict, out, log) -> dict:
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
        if r.get("ratio") is None:
            measured, met = "pymunk not installed", "-"
        elif ok is None:
            measured, met = f"{r['ratio']:.2f}", "-"
        else:
            ratio = r["ratio"]
            measured = f"{100 * ratio:.1f}%" if name in ("P3", "P4") else f"{ratio:.2f}"
            met = "-" if quick else "yes" if ok(ratio) else "no"
        rows.append(f"| {name} | {what} | {measured} | {goal} | {met} |")
    for name, r in res.get("startup", {}).items():
        what, judged, limit = STARTUP_GOALS[name]
        seconds = r[f"{judged}_s"]
        rows.append(f"| {name} | {what}: warm cache (median) / cold | {r['warm_s']:.1f} s / {r['cold_s']:.1f} s | "
                    f"{judged} <= {limit:g} s | {'yes' if seconds <= limit else 'no'} |")
    if "P1" not in res:
        return "\n".join(rows)
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
