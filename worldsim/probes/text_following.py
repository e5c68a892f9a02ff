"""Text conditioning (docs/eval.md 9): does a first frame generated from a caption show what the caption says?

The caption's facts (World.sample -> Episode.facts) list the balls' colours, count and regions. On the tracked
generated frame: count_acc = share of frames with as many balls as the caption, colour_acc = with exactly the
caption's colours, match_acc = both, region_acc = share of the caption's balls found in their named region
(top left ... bottom right, captions.region_word), size_acc = found at their named size (small / medium / large,
captions.size_word, from the tracked radius). The ground-truth first frames through the same tracker score the
floor (an overlap of two balls can hide one).
"""

from __future__ import annotations

import jax
import numpy as np

from worldsim.probes.predictor import check_frames_out
from worldsim.probes.tracker import track
from worldsim.worlds.captions import region_word, size_word
from worldsim.worlds.palette import COLOUR_NAMES
from worldsim.worlds.render import pixel_to_world


def text_accuracy(first, facts) -> dict[str, float]:
    """Scores of first frames uint8 (B, H, W, 3) against B caption facts (dicts with 'count', 'colours', 'balls')."""
    first = np.asarray(first)
    if first.ndim != 4 or len(facts) != first.shape[0]:
        raise ValueError(f"need one first frame (B, H, W, 3) per caption: got {first.shape} for {len(facts)} captions")
    tr = track(first)
    found = np.asarray(tr.present)  # (B, C)
    pos = pixel_to_world(np.asarray(tr.pos, np.float64), first.shape[1])  # (B, C, 2)
    radius = np.asarray(tr.radius, np.float64) / first.shape[1]  # (B, C) world units
    want = np.zeros_like(found)
    hits, sizes, balls = 0, 0, 0
    for b, f in enumerate(facts):
        for ball in f["balls"]:
            c = COLOUR_NAMES.index(ball["colour"])
            want[b, c] = True
            balls += 1
            hits += bool(found[b, c]) and region_word(*np.clip(pos[b, c], 0.0, 1.0)) == ball["region"]
            sizes += bool(found[b, c]) and size_word(radius[b, c]) == ball["size"]
    count_ok = found.sum(-1) == np.array([f["count"] for f in facts])
    colour_ok = np.all(found == want, -1)
    return {
        "count_acc": float(count_ok.mean()),
        "colour_acc": float(colour_ok.mean()),
        "match_acc": float((count_ok & colour_ok).mean()),
        "region_acc": float(hits / max(balls, 1)),
        "size_acc": float(sizes / max(balls, 1)),
        "n": int(first.shape[0]),
    }


def generate_first_frames(predictor, captions, key, batch: int, resolution: int) -> np.ndarray:
    """predictor.first_frames over the captions in batches, checked: uint8 (B, H, W, 3)."""
    out = []
    for i, start in enumerate(range(0, len(captions), batch)):
        chunk = list(captions[start : start + batch])
        got = predictor.first_frames(chunk, jax.random.fold_in(key, i))
        out.append(check_frames_out(got, (len(chunk), resolution, resolution, 3), f"{predictor.name}.first_frames"))
    return np.concatenate(out, 0)


def text_following(predictor, episode, key, batch: int) -> dict[str, dict]:
    """{'model': scores of the predictor's first frames, 'oracle': of the true first frames} on one episode."""
    truth = np.asarray(episode.frames[:, 0])
    first = generate_first_frames(predictor, episode.captions, key, batch, truth.shape[1])
    return {"model": text_accuracy(first, episode.facts), "oracle": text_accuracy(truth, episode.facts)}
