"""The Rollouts issue's ablation table from diagnose.py JSON files (one per model, same development clips).

    python experiments/default/ablation_table.py shipped=experiments/default/diagnose.json \
        control=experiments/default/ablation/control.json ...
"""

from __future__ import annotations

import json
import sys

WORLDS = ("bouncing_balls", "gravity", "push", "bouncing_balls+occluder")
SHORT = {"bouncing_balls": "bb", "gravity": "grav", "push": "push", "bouncing_balls+occluder": "occl"}


def cells(d: dict) -> list[str]:
    row = []
    for w in WORLDS:
        r = d.get(w, {}).get("free_c3")
        row.append("-" if r is None else
                   f"{sum(r['count_curve'][:32]) / 32:.2f} / {r['count_acc_all']:.2f} / {r['found']:.2f}")
    for w in WORLDS[:2]:
        r = d.get(w, {}).get("free_c3")
        row.append("-" if r is None else f"{r['speed_ratio']:.2f} / {r['speed_ratio_late']:.2f}")
    bb = d.get("bouncing_balls", {}).get("free_c3", {})
    row.append(f"{bb['energy_ratio']:.2f}" if bb else "-")
    row.append(" / ".join(f"{d[w]['free_c3']['radius_ratio_end']:.2f}" if w in d else "-" for w in WORLDS))
    occ = d.get("bouncing_balls+occluder", {}).get("free_c3", {}).get("scenery_kept")
    row.append("-" if occ is None else f"{occ:.2f}")
    rest = d.get("push_at_rest")
    row.append("-" if rest is None else f"{rest['share_under_1px']:.2f} / {rest['share_lost']:.2f}")
    return row


def main():
    head = ["model"] + [f"{SHORT[w]}: count right 1-32 / 1-64, balls found" for w in WORLDS] + [
        f"{SHORT[w]}: speed ratio 1-16 / 17-64" for w in WORLDS[:2]] + [
        "bb: kinetic energy, end / start", "radius at 64 / given (bb / grav / push / occl)", "occluder kept",
        "push at rest: under 1 px / lost"]
    print("| " + " | ".join(head) + " |")
    print("| " + " | ".join("---" for _ in head) + " |")
    for arg in sys.argv[1:]:
        name, _, *paths = arg.partition("=")
        d = {}
        for path in paths[-1].split("+"):  # several files of one model: later keys win
            d.update(json.load(open(path)))
        print("| " + " | ".join([name] + cells(d)) + " |")


if __name__ == "__main__":
    main()
