"""Why do the raw model's rollouts lose balls and slow them? Three diagnostics on development clips (held-out seeds
the report does not use), raw sampling, recorded in results.md ("Diagnosis of raw rollouts"):

1. speed ratio (model / truth, tracked) of one-step predictions from true context against the same ratio along a
   free rollout, frame by frame: mean regression of the objective/sampler, or drift off the training distribution?
2. decoder robustness: true latents plus Gaussian noise the size of the measured one-step error, decoded.
3. failure onset against the KV window (8) and the training clip length (16): free rollouts after c = 3 and after
   c = 19 given frames; if balls go at the same absolute frame, positions/cache are to blame, if at the same
   number of generated frames, the rollout's own errors are.

    python experiments/default/diagnose.py --model default --clips 16 --json experiments/default/diagnose.json
"""

from __future__ import annotations

import argparse
import json
import time
import zlib

import jax
import jax.numpy as jnp
import numpy as np

import worldsim.worlds as worlds_lib
from worldsim.data import HELD_OUT_SEED
from worldsim.dynamics.load import load as load_dynamics
from worldsim.dynamics.load import read_meta
from worldsim.probes.align import align, masked_mean
from worldsim.probes.long_rollout import long_rollout, scenery_kept
from worldsim.probes.tracker import objects, track
from worldsim.tokenizer.load import load as load_tokenizer
from worldsim.train.dynamics import generate

# a sibling script (python puts the script's folder on the path): the same clips, inputs and result files
from evaluate import DEV_OFFSET, REPORT_OFFSET, episode_inputs, finish, write_sheet  # noqa: E402


def one_step(dyn, tok, lat, acts, text, key, temperature: float, reproject: bool):
    """Each frame t >= 1 sampled from the true context z_0 .. z_{t-1} -> latents (B, T, ...) (frame 0 true)."""
    h = dyn(jnp.asarray(lat), jnp.asarray(acts), text=tuple(jnp.asarray(x) for x in text))  # (B, T + 1, N, d)
    z = dyn.sample_frame(h[:, 1:lat.shape[1]], key, temperature=temperature)  # predicts z_1 .. z_{T-1}
    if reproject:  # as the sampler does: decode, encode again after the (here true) previous frame
        b, t = z.shape[:2]
        prev = tok.decode(jnp.asarray(lat[:, :-1]))  # (B, T-1, H, W, 3)
        new = tok.decode(z)
        pairs = jnp.stack([prev, new], axis=2).reshape((b * t, 2) + prev.shape[2:])
        z = jnp.concatenate([tok.encode(pairs[i:i + 256])[:, 1] for i in range(0, b * t, 256)]).reshape(z.shape)
    return np.concatenate([lat[:, :1], np.asarray(z)], axis=1)


def step_speed_ratio(pred_frames, truth_frames, ep) -> np.ndarray:
    """(T,) per frame t: tracked |x_hat_t - x_{t-1}| / |x_t - x_{t-1}|, summed over balls (x_{t-1}: the TRUE frame's
    track), for one-step predictions whose context is the truth."""
    colour = np.asarray(ep.states.colour)
    tp = objects(track(pred_frames), colour)
    tt = objects(track(truth_frames), colour)
    ok = np.asarray(tp.present)[:, 1:] & np.asarray(tt.valid)[:, 1:] & np.asarray(tt.valid)[:, :-1]
    ok &= np.asarray(ep.states.present)[:, 1:]
    prev = np.asarray(tt.pos)[:, :-1]
    d_hat = np.linalg.norm(np.asarray(tp.pos)[:, 1:] - prev, axis=-1)
    d = np.linalg.norm(np.asarray(tt.pos)[:, 1:] - prev, axis=-1)
    num, den = np.where(ok, d_hat, 0).sum((0, 2)), np.where(ok, d, 0).sum((0, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.concatenate([[np.nan], num / den])


def decoder_robustness(tok, lat, ep, sigmas, key) -> dict:
    """Decode true latents + N(0, sigma^2): share of present balls found, and tracked radius / clean decode's."""
    colour, present = np.asarray(ep.states.colour), np.asarray(ep.states.present)
    clean = objects(track(np.asarray(tok.decode(jnp.asarray(lat)))), colour)
    out = {}
    for s in sigmas:
        noisy = lat + s * np.asarray(jax.random.normal(jax.random.fold_in(key, int(s * 1e4)), lat.shape))
        tr = objects(track(np.asarray(tok.decode(jnp.asarray(noisy, jnp.float32)))), colour)
        both = present & np.asarray(clean.present) & np.asarray(tr.present)
        out[f"{s:.4f}"] = {
            "found": masked_mean(np.asarray(tr.present), present & np.asarray(clean.present)),
            "radius_ratio": masked_mean(np.asarray(tr.radius) / np.asarray(clean.radius), both),
            "count_acc": float(np.mean(np.asarray(tr.present).sum(-1) == np.asarray(clean.present).sum(-1))),
        }
    return out


def rest_drift(dyn, tok, key, clips: int, temperature: float, reproject: bool, frames: int = 35,
               context_noise: float = 0.0) -> dict:
    """Push world with no push at all and every ball at rest: after 3 given frames, how far (pixels) each ball's
    tracked centre has moved by the last generated frame. A ball no longer found counts as lost (infinite drift)."""
    world = worlds_lib.make("push", "id", resolution=tok.config.resolution, num_frames=frames, speed=(0.0, 0.0),
                            idle_share=1.0)
    ep = world.sample(key, clips)
    f, lat, acts, text = episode_inputs(dyn, tok, ep)
    gen = generate(dyn, lat, acts, text, 3, jax.random.fold_in(key, 1), temperature=temperature,
                   reproject=tok if reproject else None, context_noise=context_noise)
    pred = np.concatenate([f[:, :3], np.asarray(tok.decode(jnp.asarray(gen)))[:, 3:]], 1)
    tr = objects(track(pred), np.asarray(ep.states.colour))
    pos, present = np.asarray(tr.pos), np.asarray(ep.states.present)[:, 0]
    drift = np.linalg.norm(pos[:, -1] - pos[:, 2], axis=-1)  # (B, K) pixels
    drift = np.where(np.isfinite(drift), drift, np.inf)[present]
    return {"median_px": float(np.median(drift)), "share_under_1px": float(np.mean(drift < 1.0)),
            "share_lost": float(np.mean(~np.isfinite(drift)))}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="default")
    p.add_argument("--clips", type=int, default=16)
    p.add_argument("--frames", type=int, default=67, help="clip length: c = 3 given + 64 generated")
    p.add_argument("--worlds", default="bouncing_balls,gravity")
    p.add_argument("--temperature", type=float, default=0.5)
    p.add_argument("--no-reproject", action="store_true")
    p.add_argument("--context-noise", type=float, default=0.0,
                   help="generated frames enter the context with noise of this std, told to the model (models "
                        "with a noise-level embedding only)")
    p.add_argument("--late-c", type=int, default=19, help="given frames of the second free rollout (part 3)")
    p.add_argument("--flow-steps", type=int, default=None,
                   help="Euler steps per sampled frame (default: the model's flow_steps)")
    p.add_argument("--rollouts-only", action="store_true",
                   help="only the free rollouts after 3 given frames (comparing trained variants)")
    p.add_argument("--rest", action="store_true", help="also: push balls at rest with no push (drift over 32 frames)")
    p.add_argument("--sheet", default=None, help="write truth | model contact sheets of the free rollouts here")
    p.add_argument("--report", action="store_true",
                   help="the report's held-out clips instead of the development clips: run once, on the chosen model")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    t0 = time.time()
    meta = read_meta(args.model)
    tok = load_tokenizer(meta.get("tokenizer", {}).get("path", "default"))
    dyn = load_dynamics(args.model)
    if args.flow_steps is not None:  # the head's default step count (a static setting: traced afresh)
        dyn.flow.steps = int(args.flow_steps)
    rep = not args.no_reproject
    key = jax.random.key(HELD_OUT_SEED + (REPORT_OFFSET if args.report else DEV_OFFSET))
    results = {"settings": vars(args)}
    for w in [x for x in args.worlds.split(",") if x]:  # --worlds "" with --rest: the rest test alone
        name, _, flag = w.partition("+")
        k = jax.random.fold_in(key, zlib.crc32(f"{w}/diagnose".encode()))
        world = worlds_lib.make(name, "id", resolution=tok.config.resolution, num_frames=args.frames,
                                **({"occluder": True} if flag == "occluder" else {}))
        ep = world.sample(k, args.clips)
        frames, lat, acts, text = episode_inputs(dyn, tok, ep)
        row = {}
        if not args.rollouts_only:
            recon = np.asarray(tok.decode(jnp.asarray(lat)))  # the tokenizer's own round trip: the ratio's floor
            row["recon_speed_ratio"] = float(np.nanmean(step_speed_ratio(recon, frames, ep)[3:]))
            print(f"{w} reconstructions: speed ratio {row['recon_speed_ratio']:.3f}", flush=True)
        # 1. one step from true context, at several temperatures, against free rollouts
        for temp in [] if args.rollouts_only else sorted({0.0, args.temperature, 1.0}):
            z1 = one_step(dyn, tok, lat, acts, text, jax.random.fold_in(k, 1), temp, rep)
            f1 = np.asarray(tok.decode(jnp.asarray(z1)))
            curve = step_speed_ratio(f1, frames, ep)
            err = np.sqrt(np.mean((z1[:, 1:] - lat[:, 1:]) ** 2))
            a1 = align(np.concatenate([frames[:, :1], f1[:, 1:]], 1), frames, ep.states, 1, ep.dt)
            found = masked_mean(a1.pred_present[:, 1:], a1.present[:, 1:])
            row[f"one_step_T{temp}"] = {"speed_ratio": float(np.nanmean(curve[3:])),
                                        "speed_ratio_curve": np.round(curve, 3).tolist(), "latent_rmse": float(err),
                                        "found": float(found)}
            print(f"{w} one-step T={temp}: speed ratio {np.nanmean(curve[3:]):.3f}, latent rmse {err:.4f}, "
                  f"found {found:.3f} ({time.time() - t0:.0f} s)", flush=True)
        if not args.rollouts_only:
            sigma = row[f"one_step_T{args.temperature}"]["latent_rmse"]
            row["copy_last_latent_rmse"] = float(np.sqrt(np.mean((lat[:, 1:] - lat[:, :-1]) ** 2)))
            # 2. decoder robustness
            row["decoder_noise"] = decoder_robustness(tok, lat, ep, [sigma, 2 * sigma, 4 * sigma],
                                                      jax.random.fold_in(k, 2))
            print(f"{w} decoder + noise: {json.dumps(row['decoder_noise'])}", flush=True)
        # 3. free rollouts after c = 3 and c = late_c given frames
        for c in (3,) if args.rollouts_only else (3, args.late_c):
            gen = generate(dyn, lat, acts, text, c, jax.random.fold_in(k, 3), temperature=args.temperature,
                           reproject=tok if rep else None, context_noise=args.context_noise)
            pred = np.concatenate([frames[:, :c], np.asarray(tok.decode(jnp.asarray(gen)))[:, c:]], 1)
            a = align(pred, frames, ep.states, c, ep.dt)
            m = long_rollout(a)
            m["scenery_kept"] = scenery_kept(pred, frames)
            if args.sheet and c == 3:  # truth | model, every 4th frame, first 4 clips
                write_sheet(args.sheet, f"{w}_free64", np.concatenate([frames[:4], pred[:4]], axis=3))
            lat_err = np.sqrt(np.mean((gen[:, c:] - lat[:, c:]) ** 2, axis=(0, 2, 3, 4)))
            row[f"free_c{c}"] = {k_: (np.round(v, 3).tolist() if isinstance(v, np.ndarray) else v)
                                 for k_, v in m.items()}
            row[f"free_c{c}"]["latent_rmse_curve"] = np.round(lat_err, 4).tolist()
            print(f"{w} free c={c}: count {m['count_acc_all']:.3f}, found {m['found']:.3f}, speed ratio 1-16 "
                  f"{m['speed_ratio']:.3f} late {m['speed_ratio_late']:.3f}, energy {m['energy_ratio']:.3f} "
                  f"(truth {m['truth_energy_ratio']:.3f}), radius end {m['radius_ratio_end']:.3f}, occluder kept "
                  f"{m['scenery_kept']:.3f} "
                  f"({time.time() - t0:.0f} s)", flush=True)
            print(f"  found curve {np.round(m['found_curve'], 2).tolist()}", flush=True)
            print(f"  speed curve {np.round(m['speed_ratio_curve'], 2).tolist()}", flush=True)
        results[w] = row
    if args.rest:
        r = rest_drift(dyn, tok, jax.random.fold_in(key, 77), args.clips, args.temperature, rep,
                       context_noise=args.context_noise)
        results["push_at_rest"] = r
        print(f"push, no push, balls at rest: drift over 32 frames median {r['median_px']:.2f} px, under 1 px "
              f"{r['share_under_1px']:.2f}, lost {r['share_lost']:.2f}", flush=True)
    finish(results, t0, args.json)


if __name__ == "__main__":
    main()
