"""Evaluate a trained tokenizer on held-out seeds (all worlds, 64x64) against the issue's bar.

    python experiments/tokenizer/evaluate.py --model runs/tokenizer_small/model --out experiments/tokenizer/eval.json
"""

import argparse
import json

from worldsim.probes.tokenizer_quality import evaluate, throughput
from worldsim.tokenizer.load import load

BAR = {"psnr_db": 35.0, "track_err_px": 0.3, "count_preserved": 1.0}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="runs/tokenizer_small/model")
    p.add_argument("--clips", type=int, default=32)
    p.add_argument("--ood", action="store_true", help="also report the OOD splits")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    model = load(args.model)
    splits = ("id", "speed_fast", "radius_large", "radius_small", "count") if args.ood else ("id",)
    report = {"worlds": evaluate(model, clips=args.clips, splits=splits), "speed": throughput(model)}
    report["config"] = model.config.to_dict()
    report["tokens_per_frame"] = model.config.tokens_per_frame
    report["compression"] = model.config.compression
    print("| world | PSNR dB | track err px (p95) | count preserved |")
    print("|---|---|---|---|")
    for name, m in report["worlds"].items():
        print(f"| {name} | {m['psnr_db']:.2f} | {m['track_err_px']:.3f} ({m['track_err_p95_px']:.3f}) "
              f"| {m['count_preserved']:.1%} |")
    print(f"encode {report['speed']['encode_fps']:.0f} frames/s, decode {report['speed']['decode_fps']:.0f} frames/s; "
          f"{model.config.tokens_per_frame} tokens x {model.config.latent_dim} values per frame "
          f"({model.config.compression:.0f}x fewer values than pixels)")
    ids = [m for k, m in report["worlds"].items() if "/" not in k]
    report["meets_bar"] = all(
        m["psnr_db"] >= BAR["psnr_db"] and m["track_err_px"] <= BAR["track_err_px"] and m["count_preserved"] >= 1.0
        for m in ids
    )
    print("meets the bar (ID):", report["meets_bar"])
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
