"""`evaluate(predictor, suite)`: the worldsim/docs/eval.md protocol end to end, for any Predictor, beside the baselines.

    report = ws.probes.evaluate(ws.probes.CopyLast(), "quick")
    print(report.to_markdown()); report.plots("out/")

For each world/split of the suite: held-out clips, the predictor continues each from its first `context` frames,
and the same measures score it and every baseline column (COLUMNS), with the normalised score against copy-last
and the floor. Then the capability checks the predictor supports (text, actions, VoE, latent probes).
"""

from __future__ import annotations

import dataclasses
import time
from functools import partial

import jax
import numpy as np

from worldsim.io.progress import ticking
from worldsim.io.tqdm_bar import tqdm
from worldsim.probes.action_following import action_following
from worldsim.probes.baseline_predictors import ConstantVelocity, CopyLast
from worldsim.probes.baselines import constant_velocity_true, normalised_score, oracle
from worldsim.probes.generate import continue_clips, episode_actions
from worldsim.probes.latent_eval import latent_probes
from worldsim.probes.predictor import as_predictor
from worldsim.probes.report import COLUMNS, HIGHER, SCORED, Report, jsonable
from worldsim.probes.scoring import score_clips, truth_track
from worldsim.probes.suite import get_suite, make_world, sample_clips, split_key
from worldsim.probes.text_following import text_following
from worldsim.probes.voe_run import kinds_for, voe_run

CAPABILITY = {"text": "first_frames", "voe": "surprise", "latents": "latents"}  # family -> optional method


def _check_key(key):
    if key is None:
        from worldsim.data.mixture import HELD_OUT_SEED

        return jax.random.key(HELD_OUT_SEED)
    if not (jax.dtypes.issubdtype(getattr(key, "dtype", None), jax.dtypes.prng_key) or np.shape(key) == (2,)):
        raise ValueError(f"key must be a jax PRNG key such as jax.random.key(0), got {key!r}")
    return key


def split_columns(predictor, world, ep, suite, key) -> dict:
    """Predicted clips (B, T, H, W, 3) of every column on one episode."""
    f, c, b = np.asarray(ep.frames), suite.context, suite.batch
    actions = episode_actions(ep, f.shape[1])
    run = lambda p, name: continue_clips(p, f, actions, ep.captions, c, split_key(key, name), b)  # noqa: E731
    return {
        "model": run(predictor, "model"),
        "copy_last": run(CopyLast(suite.resolution), "copy_last"),
        "cv_tracked": run(ConstantVelocity(suite.resolution), "cv_tracked"),
        "cv_true": constant_velocity_true(ep.states, f, c, world),
        "oracle": oracle(f),
    }


def scaled(value, copy, floor, name: str) -> float:
    """normalised_score where copy-last is worse than the floor on this measure, else NaN (no scale to read)."""
    worse = copy < floor if name in HIGHER else copy > floor
    return normalised_score(value, copy, floor) if worse else float("nan")


def score_split(preds: dict, world, ep, suite) -> dict:
    """The report entry of one world/split: measures, scores, curves and clip 0's tracks per column."""
    physics, pixels = "physics" in suite.families, "pixels" in suite.families
    scored = {k: score_clips(p, ep, suite.context, physics=physics, pixels=pixels) for k, p in preds.items()}
    measures = {k: s["measures"] for k, s in scored.items()}
    scores = {k: {m: scaled(v[m], measures["copy_last"][m], measures["oracle"][m], m) for m in SCORED if m in v}
              for k, v in measures.items()}
    entry = {"measures": measures, "scores": scores, "clips": ep.batch_size, "gravity": world.config.gravity,
             "elastic": world.config.restitution == 1 and world.config.damping == 0 and not world.config.controllable}
    if physics:
        entry["curves"] = {name: {k: s["curves"][name] for k, s in scored.items()} for name in scored["model"]["curves"]}
        entry["horizon_per_clip"] = {k: s["per_clip"]["horizon"] for k, s in scored.items()}
        entry["tracks"] = {"truth": truth_track(ep), **{k: s["track"] for k, s in scored.items()}}
    return entry


def _warn_if_blank(entry, where, warnings):
    cov = entry["measures"]["model"].get("coverage")
    if cov == 0.0:
        warnings.append(f"{where}: no ball of the truth is found in any generated frame of the model (coverage 0); "
                        "check that continue_frames returns RGB uint8 in [0, 255] in the palette colours")


def _plan(predictor, suite, key, fam, data) -> list[tuple[str, object]]:
    """(label, task) pairs in run order; each task writes its results into `data`."""
    s, b, c = suite, suite.batch, suite.context

    def physics(name, split):
        world, ep = sample_clips(s, name, split, key)
        entry = score_split(split_columns(predictor, world, ep, s, split_key(key, name, split)), world, ep, s)
        if "physics" in fam:
            _warn_if_blank(entry, f"{name}/{split}", data["warnings"])
        data["worlds"].setdefault(name, {})[split] = entry

    def text(name):
        _, ep = sample_clips(s, name, "id", key)
        data.setdefault("text", {})[name] = text_following(predictor, ep, split_key(key, name, "text"), b)

    def actions(name):
        world, ep = sample_clips(s, name, "id", key)
        data.setdefault("actions", {})[name] = action_following(predictor, world, ep, c, split_key(key, name, "actions"), b)

    def voe(name, kind):
        result = voe_run(predictor, make_world(s, name), kind, s.voe_pairs, split_key(key, name, kind, "voe"), b)
        data.setdefault("voe", {}).setdefault(name, {})[kind] = result

    def latents(name):
        _, ep = sample_clips(s, name, "id", split_key(key, "probes"), clips=s.probe_clips)
        data.setdefault("latents", {})[name] = latent_probes(predictor, ep, b)

    tasks = [(f"{w}/{sp}", partial(physics, w, sp)) for w, sp in s.world_splits()] if fam & {"physics", "pixels"} else []
    tasks += [(f"text {w}", partial(text, w)) for w in s.worlds if "text" in fam]
    tasks += [(f"actions {w}", partial(actions, w)) for w in s.worlds if "actions" in fam and _controllable(s, w)]
    tasks += [(f"voe {w}/{k}", partial(voe, w, k)) for w in s.worlds if "voe" in fam
              for k in kinds_for(make_world(s, w), s.violations)]
    tasks += [(f"latents {w}", partial(latents, w)) for w in s.worlds if "latents" in fam]
    return tasks


def _controllable(suite, name) -> bool:
    return make_world(suite, name).action_dim > 0


def evaluate(predictor, suite="standard", *, key=None, progress: bool = True) -> Report:
    """Run `suite` ('standard', 'quick' or a Suite) on `predictor` (a probes.Predictor, or a world model from
    ws.load) and the baselines. A suite given by name runs at predictor.resolution; a Suite object must match it."""
    t0 = time.time()
    preset = isinstance(suite, str)
    suite, predictor, key = get_suite(suite), as_predictor(predictor), _check_key(key)
    if preset:  # a preset name runs at the predictor's own resolution (the worlds render at any size)
        suite = suite.replace(resolution=int(predictor.resolution))
    if predictor.resolution != suite.resolution:
        raise ValueError(f"predictor {predictor.name!r} works at {predictor.resolution}x{predictor.resolution} but the "
                         f"suite's clips are {suite.resolution}x{suite.resolution}: pass the suite by name "
                         f"(evaluate(predictor, {suite.name!r}) runs at the predictor's resolution) or use "
                         f"suite.replace(resolution={predictor.resolution})")
    fam = set(suite.families)
    skipped = {f: f"the predictor has no {m}()" for f, m in CAPABILITY.items() if f in fam and not hasattr(predictor, m)}
    if "actions" in fam and not any(_controllable(suite, w) for w in suite.worlds):
        skipped["actions"] = "no controllable world (push) in the suite"
    fam -= set(skipped)
    data = {"model_name": predictor.name, "suite": dataclasses.asdict(suite), "columns": list(COLUMNS), "worlds": {},
            "skipped": skipped, "warnings": []}
    tasks = _plan(predictor, suite, key, fam, data)
    with tqdm(total=len(tasks), disable=not progress, unit="task", desc=f"evaluating {predictor.name}") as bar, \
            ticking(bar):
        for label, task in tasks:
            bar.set_postfix_str(label)
            task()
            bar.update()
    data["seconds"] = time.time() - t0
    return Report(jsonable(data))
