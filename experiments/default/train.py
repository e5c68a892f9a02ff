"""Train the shipped default dynamics model over the shipped tokenizer, for a fixed wall-clock budget, on whatever
JAX device is there (the default model was trained on one H200 GPU; see results.md). Same model, objective and data
as `worldsim train dynamics`, with a loop built for an accelerator:

- the encoded clips live on the device and batches are drawn there (no host round trip per step);
- the learning rate follows time, not steps: warmup over the first steps, then a cosine over the remaining wall-clock
  budget, so a run stops at its deadline with the rate decayed whatever the device's speed;
- an exponential moving average (EMA) of the weights is kept and exported beside the raw weights;
- snapshots (params as .npz, metrics as JSONL) are written every --snapshot-seconds, so a run cut short still
  leaves its latest weights.

    # on the GPU (one run of about 8 minutes):
    python experiments/default/train.py --out OUT/a --total-seconds 450
    # a CPU smoke test of the same script (tiny model and tokenizer, seconds):
    python experiments/default/train.py --preset tiny --tokenizer PATH_TO_TINY_TOKENIZER --out runs/default_tiny --total-seconds 60

Pack a snapshot into the package with experiments/default/pack.py.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from clock import check_finite, wall_clock_lr
from flax import nnx

T0 = time.time()

from worldsim.data.latents import LatentDataset, tokenizer_fingerprint  # noqa: E402
from worldsim.dynamics import DynamicsModel  # noqa: E402
from worldsim.io.params import flatten_tree, nest_tree  # noqa: E402
from worldsim.train.dynamics import (  # noqa: E402
    _STEP_KEYS, DynamicsTrainConfig, batch_loss, eval_step, fit_to_tokenizer, rollout_settings)


def config(args) -> DynamicsTrainConfig:
    base = DynamicsTrainConfig.tiny() if args.preset == "tiny" else DynamicsTrainConfig.small()
    cfg = base.replace(tokenizer=args.tokenizer, batch_size=args.batch, lr=args.lr, context_noise=args.context_noise,
                       clip_frames=args.clip_frames, seed=args.seed, val_clips=args.val_clips,
                       clips_per_world=args.clips_per_world, text_dropout=args.text_dropout,
                       self_rollout=args.self_rollout)
    if cfg.model.prior_dim:  # the first-frame prior works on latents scaled to about unit std (train_prior.py)
        cfg = cfg.replace(model=cfg.model.replace(prior_scale=args.prior_scale))
    return cfg


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="folder for snapshots (ema.npz, raw.npz), metrics.jsonl, run.json")
    p.add_argument("--preset", choices=("small", "tiny"), default="small")
    p.add_argument("--tokenizer", default="default")
    p.add_argument("--total-seconds", type=float, default=450.0, help="wall-clock budget from process start")
    p.add_argument("--reserve-seconds", type=float, default=25.0, help="kept at the end for the final evaluation")
    p.add_argument("--snapshot-seconds", type=float, default=60.0)
    p.add_argument("--clips-per-world", type=int, default=6000)
    p.add_argument("--clip-frames", type=int, default=16)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=300)
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--context-noise", type=float, default=0.0)
    p.add_argument("--text-dropout", type=float, default=0.1)
    p.add_argument("--self-rollout", type=int, default=0,
                   help="passes of the model's own samples as context for half the clips (worldsim.train.self_rollout)")
    p.add_argument("--prior-scale", type=float, default=3.98,
                   help="DynamicsConfig.prior_scale: 1 / the std of the shipped tokenizer's first-frame latents")
    p.add_argument("--val-clips", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init", default=None, help="start from a snapshot folder of this script (raw.npz, ema.npz)")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    deadline = T0 + args.total_seconds - args.reserve_seconds

    from worldsim.tokenizer.load import load as load_tokenizer

    tokenizer = load_tokenizer(args.tokenizer)
    cfg = fit_to_tokenizer(config(args), tokenizer)
    print(f"devices {jax.devices()}; jax {jax.__version__}", flush=True)

    m = cfg.model
    common = dict(chunk=256 if args.preset == "small" else 8, max_text_bytes=m.max_text_bytes,
                  action_dim=m.action_dim, num_colours=m.num_colours, dtype="float16", quiet=True)
    t = time.time()
    data = LatentDataset.from_worlds(tokenizer, cfg.worlds, cfg.clips_per_world, cfg.clip_frames, cfg.seed, **common)
    per_world = max(1, -(-cfg.val_clips // len(cfg.worlds)))
    val = LatentDataset.from_worlds(tokenizer, cfg.worlds, per_world, cfg.clip_frames, cfg.seed, held_out=True,
                                    **common)
    print(f"encoded {len(data)} training and {len(val)} validation clips in {time.time() - t:.1f} s", flush=True)
    dev = {k: jnp.asarray(getattr(data, k)) for k in _STEP_KEYS}  # float16 latents: half the device memory
    val_batch = {k: jnp.asarray(getattr(val, k)) for k in _STEP_KEYS}
    val_batch["latents"] = val_batch["latents"].astype(jnp.float32)
    n_clips = len(data)

    model = DynamicsModel(cfg.model, rngs=nnx.Rngs(cfg.seed))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    n_params = sum(x.size for x in jax.tree.leaves(params))
    # clip -> Adam -> decoupled weight decay; the learning rate is applied outside so it can follow wall-clock time
    tx = optax.chain(optax.clip_by_global_norm(cfg.clip_norm), optax.scale_by_adam(),
                     optax.add_decayed_weights(cfg.weight_decay))
    if args.init:  # continue a finished run: its weights and EMA, a fresh optimizer and schedule
        with np.load(Path(args.init) / "raw.npz") as f:
            nnx.replace_by_pure_dict(params, nest_tree({k: f[k] for k in f.files}))
        ema = jax.tree.map(jnp.copy, params)
        with np.load(Path(args.init) / "ema.npz") as f:
            nnx.replace_by_pure_dict(ema, nest_tree({k: f[k] for k in f.files}))
    else:
        ema = jax.tree.map(jnp.copy, params)
    opt_state = tx.init(params)

    def step(params, opt_state, ema, data, key, lr):
        k_idx, k_loss = jax.random.split(key)
        idx = jax.random.randint(k_idx, (cfg.batch_size,), 0, n_clips)
        batch = {k: data[k][idx] for k in _STEP_KEYS}
        batch["latents"] = batch["latents"].astype(jnp.float32)

        def loss_fn(p):
            model = nnx.merge(graphdef, p, rest)
            loss, metrics, _ = batch_loss(model, batch, k_loss, cfg.text_dropout, cfg.state_weight,
                                          cfg.context_noise, rollout_settings(cfg))
            return loss, metrics

        (_, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = jax.tree.map(lambda p_, u: p_ - lr * u, params, updates)
        ema = jax.tree.map(lambda e, p_: e + (1.0 - args.ema) * (p_ - e), ema, params)
        return params, opt_state, ema, {**metrics, "grad_norm": optax.tree.norm(grads)}

    step = jax.jit(step, donate_argnums=(0, 1, 2))

    def evaluate(p) -> dict:
        return {k: float(v) for k, v in eval_step(nnx.merge(graphdef, p, rest), val_batch,
                                                    jax.random.key(1_000_000)).items()}

    def snapshot(done: int, final: bool = False) -> None:
        for name, tree in (("ema", ema), ("raw", params)):
            tmp = out / f"{name}.tmp.npz"
            np.savez(tmp, **{k: np.asarray(v) for k, v in flatten_tree(nnx.to_pure_dict(tree)).items()})
            tmp.replace(out / f"{name}.npz")
        run = {"steps": done, "final": final, "seconds": time.time() - T0, "params": int(n_params),
               "train": cfg.to_dict(), "ema": args.ema, "warmup": args.warmup, "clips": n_clips,
               "tokenizer_fingerprint": tokenizer_fingerprint(tokenizer), "device": str(jax.devices()[0]),
               "jax": jax.__version__}
        (out / "run.json").write_text(json.dumps(run, indent=2))

    log = open(out / "metrics.jsonl", "a")
    base = jax.random.key(cfg.seed)
    t_train = time.time()
    budget = max(deadline - t_train, 1.0)
    last_snap, done, metrics = time.time(), 0, None
    print(f"{n_params} parameters; training for {budget:.0f} s", flush=True)
    while True:
        now = time.time()
        if now >= deadline:
            break
        lr = wall_clock_lr(args.lr, done, args.warmup, (now - t_train) / budget)
        params, opt_state, ema, metrics = step(params, opt_state, ema, dev, jax.random.fold_in(base, done),
                                               jnp.float32(lr))
        done += 1
        if done % 100 == 0 or done == 20:
            row = {k: float(v) for k, v in metrics.items()}
            check_finite(row["loss"], done)
            row.update(step=done, lr=lr, seconds=round(time.time() - T0, 1))
            if done % 1000 == 0:
                row.update({f"ema_{k}": v for k, v in evaluate(ema).items()})
            log.write(json.dumps(row) + "\n")
            log.flush()
            print(json.dumps({k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()
                              if k in ("step", "loss", "flow_loss", "state_loss", "seconds", "ema_val_next_mse",
                                       "ema_val_copy_mse")}), flush=True)
        if time.time() - last_snap > args.snapshot_seconds:
            snapshot(done)
            last_snap = time.time()
    final = {"step": done, "seconds": round(time.time() - T0, 1)}
    final.update({f"raw_{k}": v for k, v in evaluate(params).items()})
    final.update({f"ema_{k}": v for k, v in evaluate(ema).items()})
    log.write(json.dumps(final) + "\n")
    log.close()
    snapshot(done, final=True)
    print("final", json.dumps(final), flush=True)


if __name__ == "__main__":
    main()
