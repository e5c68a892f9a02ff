"""Train the first-frame prior (worldsim/dynamics/prior.py) for the shipped default model, on the CPU.

Every example is a first frame of a training-seed clip (bouncing_balls, gravity, push) with its caption, encoded
once by the shipped tokenizer. The prior is trained alone; the dynamics' weights are not touched, and `attach`
adds the prior to a copy of the shipped export. Captions are padded to the longest one rounded up to 32 bytes
(about 288), not 384: padding is masked, so this is exact and cheaper.

    python experiments/default/train_prior.py train --out runs/prior --total-seconds 4200
    python experiments/default/train_prior.py attach runs/prior --weights ema --dest worldsim/assets/dynamics

A run can continue an earlier one (--init RUN) and train the unconditional flow too (--drop-caption P: that share of
examples gets the null prompt), which classifier-free guidance needs (`--guidance 1,2,4` measures several scales).

`train` writes raw.npz / ema.npz (the prior's parameters), run.json and metrics.jsonl, and every snapshot
measures how many sampled first frames of 96 training-seed captions (not the held-out ones evaluate.py uses) show
the caption's ball count and colours to the tracker.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

T0 = time.time()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from clock import add_training_args, train_until  # noqa: E402
from flax import nnx  # noqa: E402

from worldsim import worlds  # noqa: E402
from worldsim.data.latents import encode_captions, tokenizer_fingerprint  # noqa: E402
from worldsim.data.mixture import HELD_OUT_SEED  # noqa: E402
from worldsim.dynamics import DynamicsModel  # noqa: E402
from worldsim.dynamics.layers import count_params  # noqa: E402
from worldsim.dynamics.load import DEFAULT, export, read_meta  # noqa: E402
from worldsim.dynamics.load import load as load_dynamics  # noqa: E402
from worldsim.dynamics.prior import FirstFramePrior  # noqa: E402
from worldsim.dynamics.tokens import from_tokens, to_tokens  # noqa: E402
from worldsim.io.params import flatten_tree, nest_tree  # noqa: E402
from worldsim.probes.tracker import track  # noqa: E402
from worldsim.tokenizer.load import load as load_tokenizer  # noqa: E402
from worldsim.worlds.palette import COLOUR_NAMES  # noqa: E402

WORLDS = ("bouncing_balls", "gravity", "push")
SEED_BASE = 600_000  # training seeds (below HELD_OUT_SEED), apart from the pretraining stream and finetune_text.py


def first_frames(tok, n_per_world: int, max_bytes: int, chunk: int = 1024) -> dict:
    """{latents (N, g, g, D) float16, ids (N, L), mask (N, L), colours (N, C) bool, count (N,)}; L is the longest
    caption rounded up to 32 bytes."""
    zs, caps, facts = [], [], []
    encode = jax.jit(lambda f: tok.encode(f))
    for w_i, name in enumerate(WORLDS):
        world = worlds.make(name, num_frames=2)
        for c in range(0, n_per_world, chunk):
            seed = SEED_BASE + 10_000 * w_i + c // chunk
            assert seed < HELD_OUT_SEED
            ep = world.sample(jax.random.key(seed), chunk)
            zs.append(np.asarray(encode(jnp.asarray(ep.frames[:, :1])))[:, 0].astype(np.float16))
            caps += list(ep.captions)
            facts += list(ep.facts)
    ids, mask, cut = encode_captions(caps, max_bytes)
    if cut:
        raise ValueError(f"{cut} captions longer than {max_bytes} bytes")
    length = int(math.ceil(mask.sum(1).max() / 32) * 32)  # padding is masked: trimming it is exact
    ids, mask = ids[:, :length], mask[:, :length]
    colours = np.zeros((len(facts), len(COLOUR_NAMES)), bool)
    for i, f in enumerate(facts):
        colours[i, [COLOUR_NAMES.index(c) for c in f["colours"]]] = True
    # interleave the worlds so that any slice (validation, the measured captions) holds all three
    order = np.arange(len(caps)).reshape(len(WORLDS), -1).T.reshape(-1)
    return {"latents": np.concatenate(zs)[order], "ids": ids[order], "mask": mask[order],
            "colours": colours[order], "count": np.array([f["count"] for f in facts])[order]}


def cached_first_frames(cache, tok, n_per_world: int, max_bytes: int) -> dict:
    """first_frames, kept in (and read back from) the .npz `cache` when one is named."""
    cache = Path(cache) if cache else None
    if cache is None or not cache.exists():
        data = first_frames(tok, n_per_world, max_bytes)
        if cache is not None:
            np.savez(cache, **data)
        return data
    with np.load(cache) as f:
        data = {k: f[k] for k in f.files}
    if len(data["latents"]) != len(WORLDS) * n_per_world:
        raise ValueError(f"{cache} holds {len(data['latents'])} frames, not {len(WORLDS)} x --per-world: "
                         "delete it or pass its --per-world")
    return data


def caption_match(prior, tok, group: int, ids, mask, colours, count, key, temperature: float = 1.0,
                  guidance: float = 1.0) -> dict:
    """Share of sampled first frames whose tracked count (and colour set) equal the caption's."""
    z = from_tokens(prior.sample(jnp.asarray(ids), jnp.asarray(mask), key, temperature=temperature,
                                 guidance=guidance), group)
    return tracked_match(tok, z, colours, count)


def tracked_match(tok, z, colours, count) -> dict:
    """Share of latent first frames z (M, g, g, D) whose decoded frame shows the tracker the count (count) and the
    colour set (colours (M, C) bool) asked for."""
    found = np.asarray(track(tok.decode(z[:, None])[:, 0]).present)  # (M, C)
    return {"count": float((found.sum(-1) == count).mean()), "count_colours": float((found == colours).all(-1).mean())}


def save_run(out: Path, trees: dict, done: int, final: bool, args, dyn_cfg, tok, **fields) -> dict:
    """Write each of trees ({"ema": ..., "raw": ...}, parameter States) to out/NAME.npz, atomically, and run.json
    (what attach_part reads back); returns the run's record."""
    for name, tree in trees.items():
        tmp = out / f"{name}.tmp.npz"
        np.savez(tmp, **{k: np.asarray(v) for k, v in flatten_tree(nnx.to_pure_dict(tree)).items()})
        tmp.replace(out / f"{name}.npz")
    run = {"steps": done, "final": final, "seconds": round(time.time() - T0, 1), "device": str(jax.devices()[0]),
           "jax": jax.__version__, "model": dyn_cfg.to_dict(), "args": vars(args) | {"func": None},
           "worlds": WORLDS, "tokenizer_fingerprint": tokenizer_fingerprint(tok)} | fields
    (out / "run.json").write_text(json.dumps(run, indent=2))
    return run


def train(args) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    shipped = read_meta(DEFAULT)
    dyn_cfg = load_dynamics(DEFAULT).config.replace(
        prior_dim=args.dim, prior_layers=args.layers, prior_heads=args.heads, prior_text_dim=args.text_dim,
        prior_text_layers=args.text_layers)
    init = None
    if args.init:  # continue from an earlier run's raw weights, with its prior's shape and scale
        init_run = json.loads((Path(args.init) / "run.json").read_text())
        dyn_cfg = type(dyn_cfg).from_dict(init_run["model"])
        args.scale = dyn_cfg.prior_scale
        with np.load(Path(args.init) / "raw.npz") as f:
            init = nest_tree({k: f[k] for k in f.files})
    tok = load_tokenizer("default")
    t = time.time()
    data = cached_first_frames(args.data_cache, tok, args.per_world, dyn_cfg.max_text_bytes)
    if args.scale is None:  # 1 / the latents' std about their per-channel means (latent diffusion's scale factor)
        lat = data["latents"][:8192].astype(np.float32)
        dyn_cfg = dyn_cfg.replace(prior_scale=round(float(1.0 / np.sqrt(lat.var(axis=(0, 1, 2)).mean())), 2))
    else:
        dyn_cfg = dyn_cfg.replace(prior_scale=args.scale)
    print(f"prior_scale {dyn_cfg.prior_scale}", flush=True)
    n = len(data["latents"])
    print(f"{n} first frames ready in {time.time() - t:.0f} s; captions padded to {data['ids'].shape[1]} bytes",
          flush=True)
    n_val = 512
    val = {k: v[:n_val] for k, v in data.items()}
    dev = {"tokens": jnp.asarray(to_tokens(jnp.asarray(data["latents"][n_val:]), dyn_cfg.group)),
           "ids": jnp.asarray(data["ids"][n_val:]), "mask": jnp.asarray(data["mask"][n_val:])}
    n_train = n - n_val
    val_tokens = to_tokens(jnp.asarray(val["latents"], jnp.float32), dyn_cfg.group)

    prior = FirstFramePrior(dyn_cfg, rngs=nnx.Rngs(args.seed))
    graphdef, params = nnx.split(prior, nnx.Param)
    if init is not None:
        nnx.replace_by_pure_dict(params, init)
    n_params = count_params(prior)
    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.scale_by_adam(b2=0.99), optax.add_decayed_weights(0.01))
    opt_state = tx.init(params)
    ema = jax.tree.map(jnp.copy, params)

    def loss_of(p, tokens, ids, mask, key):
        return nnx.merge(graphdef, p).loss(tokens.astype(jnp.float32), ids, mask.astype(bool), key, args.repeats,
                                           drop=args.drop_caption)

    @jax.jit
    def step(p, opt_state, ema, key, lr):
        k_idx, k_loss = jax.random.split(key)
        idx = jax.random.randint(k_idx, (args.batch,), 0, n_train)
        loss, grads = jax.value_and_grad(loss_of)(p, dev["tokens"][idx], dev["ids"][idx], dev["mask"][idx], k_loss)
        updates, opt_state = tx.update(grads, opt_state, p)
        p = jax.tree.map(lambda a, u: a - lr * u, p, updates)
        ema = jax.tree.map(lambda e, a: e + (1.0 - args.ema) * (a - e), ema, p)
        return p, opt_state, ema, loss, optax.tree.norm(grads)

    @jax.jit
    def val_loss(p):
        ks = [jax.random.key(i) for i in range(4)]
        return jnp.mean(jnp.stack([loss_of(p, val_tokens, val["ids"], val["mask"], k) for k in ks]))

    measured = slice(0, 96)

    def match(p) -> dict:
        out = {}
        for g in args.guidance:
            r = caption_match(nnx.merge(graphdef, p), tok, dyn_cfg.group, val["ids"][measured], val["mask"][measured],
                              val["colours"][measured], val["count"][measured], jax.random.key(7), guidance=g)
            out |= {(k if g == 1.0 else f"{k}_g{g:g}"): v for k, v in r.items()}
        return out

    def snapshot(done: int, final: bool = False) -> dict:
        run = save_run(out, {"ema": ema, "raw": params}, done, final, args, dyn_cfg, tok, prior_params=n_params,
                       examples=n_train, dynamics_steps=shipped.get("steps"))
        row = {"step": done, "seconds": run["seconds"], "val_loss": float(val_loss(params)),
               "ema_val_loss": float(val_loss(ema))}
        row |= {f"ema_match_{k}": v for k, v in match(ema).items()} | {f"match_{k}": v for k, v in match(params).items()}
        return row

    def advance(done: int, lr: float) -> dict:
        nonlocal params, opt_state, ema
        params, opt_state, ema, loss, gnorm = step(params, opt_state, ema, jax.random.fold_in(base, done),
                                                   jnp.float32(lr))
        return {"loss": loss, "grad_norm": gnorm}

    base = jax.random.key(args.seed)
    print(f"{n_params} prior parameters", flush=True)
    train_until(T0 + args.total_seconds - 60, advance, snapshot, open(out / "metrics.jsonl", "a"), lr=args.lr,
                warmup=args.warmup, snapshot_seconds=args.snapshot_seconds, t0=T0)

def attach(args) -> None:
    """The shipped (or --base) export with the trained prior added, written to --dest."""
    attach_part(args, "prior", "prior_")


def attach_part(args, part: str, prefix: str, drop_prior: bool = False) -> None:
    """Copy --base's export to --dest with args.run_dir's trained weights as the model's `part` (its config keys
    start with `prefix`; every other key must equal the base's). drop_prior: leave the first-frame prior out."""
    run_dir = Path(args.run_dir)
    run = json.loads((run_dir / "run.json").read_text())
    base = DEFAULT if args.base == "default" else Path(args.base)
    meta = read_meta(base)
    dyn = load_dynamics(base)
    cfg = type(dyn.config).from_dict(run["model"])
    ignored = (prefix, "prior_") if drop_prior else (prefix,)
    if {k: v for k, v in cfg.to_dict().items() if not k.startswith(ignored)} != {
            k: v for k, v in dyn.config.to_dict().items() if not k.startswith(ignored)}:
        raise ValueError(f"{run_dir} trained a {part} for another dynamics config than {base}'s")
    if drop_prior:
        cfg = cfg.replace(prior_dim=0)
    tok_name = meta.get("tokenizer", {}).get("path", "default")
    if tokenizer_fingerprint(load_tokenizer(tok_name)) != run["tokenizer_fingerprint"]:
        raise ValueError(f"the {part} in {run_dir} was trained over another tokenizer than {tok_name!r}")
    model = nnx.eval_shape(lambda: DynamicsModel(cfg, rngs=nnx.Rngs(0)))
    graphdef, state, rest = nnx.split(model, nnx.Param, ...)
    pure = nnx.to_pure_dict(nnx.state(dyn, nnx.Param))
    with np.load(run_dir / f"{args.weights}.npz") as f:
        pure[part] = nest_tree({k: f[k] for k in f.files})
    if drop_prior:
        pure.pop("prior", None)
    nnx.replace_by_pure_dict(state, pure)
    model = nnx.merge(graphdef, state, rest)
    extra = {k: v for k, v in meta.items() if k not in ("kind", "model") + (("prior",) if drop_prior else ())}
    for name in ("first_guidance", "first_temperature"):  # recorded sampling defaults (measured best), see Sampling
        if getattr(args, name, None) is not None:
            extra["sampling"] = dict(extra.get("sampling", {}), **{name: getattr(args, name)})
    extra[part] = {"steps": run["steps"], "seconds": run["seconds"], "device": run["device"],
                   "weights": args.weights, "params": run[f"{part}_params"], "examples": run["examples"],
                   "worlds": run["worlds"], "args": {k: v for k, v in run["args"].items() if k != "func"}}
    print(f"wrote {export(model, args.dest, extra)} ({part}: {run['steps']} steps, {args.weights} weights)")


def add_attach_args(sub, help: str):
    """The `attach` subcommand's options that attach_part reads; returns its parser."""
    a = sub.add_parser("attach", help=help)
    a.add_argument("run_dir")
    a.add_argument("--weights", choices=("ema", "raw"), default="ema")
    a.add_argument("--base", default="default", help="the export to add it to")
    a.add_argument("--dest", default=str(DEFAULT))
    return a


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(required=True)
    t = sub.add_parser("train", help="train a prior")
    add_training_args(t, per_world=32_768, lr=1e-3, warmup=200, ema=0.999, snapshot_seconds=600.0)
    t.add_argument("--repeats", type=int, default=2, help="noise levels per example (the prompt is encoded once)")
    t.add_argument("--dim", type=int, default=64)
    t.add_argument("--layers", type=int, default=3)
    t.add_argument("--heads", type=int, default=4)
    t.add_argument("--text-dim", type=int, default=64)
    t.add_argument("--text-layers", type=int, default=2)
    t.add_argument("--scale", type=float, default=None,
                   help="DynamicsConfig.prior_scale; default: 1 / the encoded first frames' std")
    t.add_argument("--drop-caption", type=float, default=0.0,
                   help="share of examples trained with the null prompt (needed for classifier-free guidance)")
    t.add_argument("--guidance", type=lambda v: [float(x) for x in v.split(",")], default=[1.0],
                   help="comma-separated guidance scales the snapshots measure caption matches at")
    t.add_argument("--init", default=None, help="a train run's folder to continue from (its raw weights)")
    t.add_argument("--data-cache", default=None, help="an .npz to keep the encoded first frames in (reused if there)")
    t.set_defaults(func=train)
    a = add_attach_args(sub, "add a trained prior to a dynamics export")
    a.add_argument("--first-guidance", type=float, default=None,
                   help="record this classifier-free guidance of first frames as the model's sampling default")
    a.set_defaults(func=attach)
    args = p.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
