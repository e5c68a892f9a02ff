"""Train the layout prior (worldsim/dynamics/layout.py) for the shipped default model, on the CPU.

Every example is a first frame of a training-seed clip (bouncing_balls, gravity, push): its caption, its balls by
colour slot (presence, centre, radius: the world's ground-truth state) and its latent frame from the shipped
tokenizer. The parser learns caption -> layout, the renderer layout -> latent frame; nothing else is touched, and
`attach` adds the layout prior to a copy of the shipped export (text-only first frames then come from it).
The frames and captions are the ones train_prior.py encodes (same seeds, same order; pass its --data-cache).

    python experiments/default/train_layout.py train --out runs/layout --data-cache runs/prior_data.npz
    python experiments/default/train_layout.py attach runs/layout --weights raw

`train` writes raw.npz / ema.npz (the layout prior's parameters), run.json and metrics.jsonl. Every snapshot
decodes first frames for 96 training-seed captions (not the held-out ones evaluate.py uses) and counts how many
show the tracker the caption's ball count and colours: rendered from the true layouts (the renderer alone) and
from layouts sampled from the captions (the whole prior).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

T0 = time.time()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from clock import add_training_args, train_until  # noqa: E402
from flax import nnx  # noqa: E402
from train_prior import SEED_BASE, WORLDS, add_attach_args, attach_part, cached_first_frames, save_run, tracked_match  # noqa: E402

from worldsim import worlds  # noqa: E402
from worldsim.data.latents import encode_captions  # noqa: E402
from worldsim.dynamics.layers import count_params  # noqa: E402
from worldsim.dynamics.layout import Layout, LayoutPrior  # noqa: E402
from worldsim.dynamics.state import states_by_colour  # noqa: E402
from worldsim.dynamics.load import DEFAULT, read_meta  # noqa: E402
from worldsim.dynamics.load import load as load_dynamics  # noqa: E402
from worldsim.io.params import nest_tree  # noqa: E402
from worldsim.tokenizer.load import load as load_tokenizer  # noqa: E402
from worldsim.worlds.captions import ball_facts  # noqa: E402
from worldsim.worlds.palette import COLOURS  # noqa: E402


def layout_by_colour(s) -> tuple:
    """Ball slots of states (leaves (B, K, ...)) -> colour slots: present (B, C), xy (B, C, 2), radius (B, C),
    vel (B, C, 2) (dynamics.states_by_colour, with the radius carried as a one-value "velocity")."""
    c = len(COLOURS)
    xy, vel, present = states_by_colour(s.pos, s.vel, s.colour, s.present, c)
    radius = states_by_colour(s.pos, s.radius[..., None], s.colour, s.present, c)[1][..., 0]
    return present, xy, radius, vel


def first_layouts(n_per_world: int, chunk: int = 1024) -> dict:
    """{present (N, C) bool, xy (N, C, 2), radius (N, C), vel (N, C, 2)} of the first frames
    train_prior.first_frames encodes, in its order (the same seeds and interleaving)."""
    parts = []
    by_colour = jax.jit(layout_by_colour)
    for w_i, name in enumerate(WORLDS):
        world = worlds.make(name, num_frames=2)
        for i in range(0, n_per_world, chunk):
            ep = world.sample(jax.random.key(SEED_BASE + 10_000 * w_i + i // chunk), chunk)
            parts.append([np.asarray(x) for x in by_colour(jax.tree.map(lambda a: a[:, 0], ep.states))])
    present, xy, radius, vel = (np.concatenate(p) for p in zip(*parts, strict=True))
    order = np.arange(len(present)).reshape(len(WORLDS), -1).T.reshape(-1)
    return {"present": present[order], "xy": xy[order].astype(np.float32), "radius": radius[order].astype(np.float32),
            "vel": vel[order].astype(np.float32)}


def loose_caption(caption: str, present, xy, radius, vel, rng) -> str:
    """The same scene as people might prompt it: each ball's size, place and motion words are each kept with
    probability 1/2, the balls come in a random order, joined by commas or "and", and the caption's opening words
    ("Two bouncing balls") are kept for one in three (a world caption names every ball with all three)."""
    phrases = []
    for c in rng.permutation(np.flatnonzero(present)):
        b = ball_facts(xy[c], vel[c], radius[c], c)
        text = "a " + (f"{b['size']} " if rng.random() < 0.5 else "") + f"{b['colour']} ball"
        if rng.random() < 0.5:
            text += " in the center" if b["region"] == "center" else f" at the {b['region']}"
        if rng.random() < 0.5:
            pace = {"slow": " slowly", "fast": " quickly"}.get(b["pace"], "")
            text += " at rest" if b["direction"] is None else f" moving {b['direction']}{pace}"
        phrases.append(text)
    body = ", ".join(phrases[:-1]) + (" and " if rng.random() < 0.5 else ", ") + phrases[-1] if len(
        phrases) > 1 else phrases[0]
    if rng.random() < 1 / 3:
        return caption.split(": ")[0] + ": " + body + "."
    return body + ("." if rng.random() < 0.5 else "")


def loose_captions(data: dict, seed: int, max_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """Bytes and mask of one loose_caption per example, padded like data["ids"]."""
    rng = np.random.default_rng(seed)
    captions = [bytes(ids[m].astype(np.uint8)).decode() for ids, m in zip(data["ids"], data["mask"], strict=True)]
    loose = [loose_caption(cap, *(data[k][i] for k in ("present", "xy", "radius", "vel")), rng)
             for i, cap in enumerate(captions)]
    ids, mask, cut = encode_captions(loose, max_bytes)
    length = data["ids"].shape[1]
    if cut or mask[:, length:].any():
        raise ValueError("a loose caption is longer than the captions it was made from")
    return ids[:, :length], mask[:, :length]


def load_data(args, tok, max_text_bytes: int) -> dict:
    data = cached_first_frames(args.data_cache, tok, args.per_world, max_text_bytes)
    data |= first_layouts(args.per_world)
    if not (np.array_equal(data["present"], data["colours"]) and np.array_equal(data["present"].sum(1), data["count"])):
        raise ValueError("the layouts do not match the cached frames' colours: the cache was made by other seeds")
    data["loose_ids"], data["loose_mask"] = loose_captions(data, args.seed, max_text_bytes)
    return data


def train(args) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    shipped = read_meta(DEFAULT)
    dyn_cfg = load_dynamics(DEFAULT).config.replace(
        layout_dim=args.dim, layout_heads=args.heads, layout_text_layers=args.text_layers,
        layout_render_dim=args.render_dim, layout_render_layers=args.render_layers)
    tok = load_tokenizer("default")
    t = time.time()
    data = load_data(args, tok, dyn_cfg.max_text_bytes)
    n = len(data["latents"])
    print(f"{n} first frames and layouts ready in {time.time() - t:.0f} s", flush=True)
    n_val = 512
    keys = ("latents", "ids", "mask", "loose_ids", "loose_mask", "present", "xy", "radius")
    val = {k: jnp.asarray(data[k][:n_val]) for k in keys}
    dev = {k: jnp.asarray(data[k][n_val:]) for k in keys}
    n_train = n - n_val

    prior = LayoutPrior(dyn_cfg, rngs=nnx.Rngs(args.seed))
    graphdef, params = nnx.split(prior, nnx.Param)
    if args.init:  # continue from an earlier run's raw weights (same shape: pass its options)
        with np.load(Path(args.init) / "raw.npz") as f:
            nnx.replace_by_pure_dict(params, nest_tree({k: f[k] for k in f.files}))
    n_params = count_params(prior)
    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.scale_by_adam(b2=0.99), optax.add_decayed_weights(0.01))
    opt_state = tx.init(params)
    ema = jax.tree.map(jnp.copy, params)

    def loss_of(p, b):
        layout = Layout(b["present"], b["xy"], b["radius"])
        return nnx.merge(graphdef, p).loss(b["ids"], b["mask"], layout, b["latents"].astype(jnp.float32))

    @jax.jit
    def step(p, opt_state, ema, key, lr):
        k_idx, k_loose = jax.random.split(key)
        idx = jax.random.randint(k_idx, (args.batch,), 0, n_train)
        b = {k: v[idx] for k, v in dev.items()}
        loose = (jax.random.uniform(k_loose, (args.batch, 1)) < args.loose)  # these rows get the loose caption
        b["ids"], b["mask"] = jnp.where(loose, b["loose_ids"], b["ids"]), jnp.where(loose, b["loose_mask"], b["mask"])
        (loss, parts), grads = jax.value_and_grad(loss_of, has_aux=True)(p, b)
        updates, opt_state = tx.update(grads, opt_state, p)
        p = jax.tree.map(lambda a, u: a - lr * u, p, updates)
        ema = jax.tree.map(lambda e, a: e + (1.0 - args.ema) * (a - e), ema, p)
        return p, opt_state, ema, loss, parts, optax.tree.norm(grads)

    val_loss = jax.jit(lambda p: loss_of(p, val)[1])
    measured = slice(0, 96)
    sample = nnx.jit(lambda m, ids, mask, key: m.sample(ids, mask, key))
    render = nnx.jit(lambda m, layout: m.render(layout))

    def match(p) -> dict:
        m, v = nnx.merge(graphdef, p), {k: x[measured] for k, x in val.items()}
        want = (np.asarray(v["present"]), np.asarray(v["present"]).sum(1))
        truth = tracked_match(tok, render(m, Layout(v["present"], v["xy"], v["radius"])), *want)
        text = tracked_match(tok, sample(m, v["ids"], v["mask"], jax.random.key(7)), *want)
        loose = tracked_match(tok, sample(m, v["loose_ids"], v["loose_mask"], jax.random.key(7)), *want)
        return ({f"true_layout_{k}": x for k, x in truth.items()} | {f"text_{k}": x for k, x in text.items()}
                | {f"loose_text_{k}": x for k, x in loose.items()})

    def snapshot(done: int, final: bool = False) -> dict:
        run = save_run(out, {"ema": ema, "raw": params}, done, final, args, dyn_cfg, tok, layout_params=n_params,
                       examples=n_train, dynamics_steps=shipped.get("steps"))
        row = {"step": done, "seconds": run["seconds"]}
        row |= {f"val_{k}": float(x) for k, x in val_loss(params).items()}
        row |= {f"ema_val_{k}": float(x) for k, x in val_loss(ema).items()}
        row |= {f"ema_{k}": x for k, x in match(ema).items()} | match(params)
        return row

    def advance(done: int, lr: float) -> dict:
        nonlocal params, opt_state, ema
        params, opt_state, ema, loss, parts, gnorm = step(params, opt_state, ema, jax.random.fold_in(base, done),
                                                          jnp.float32(lr))
        return {"loss": loss, **parts, "grad_norm": gnorm}

    base = jax.random.key(args.seed)
    print(f"{n_params} layout prior parameters", flush=True)
    train_until(T0 + args.total_seconds - 60, advance, snapshot, open(out / "metrics.jsonl", "a"), lr=args.lr,
                warmup=args.warmup, snapshot_seconds=args.snapshot_seconds, t0=T0)

def attach(args) -> None:
    """The shipped (or --base) export with the trained layout prior added, written to --dest."""
    attach_part(args, "layout", "layout_", drop_prior=args.drop_prior)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(required=True)
    t = sub.add_parser("train", help="train a layout prior")
    add_training_args(t, per_world=32_768, lr=1e-3, warmup=200, ema=0.999, snapshot_seconds=600.0)
    t.add_argument("--dim", type=int, default=64, help="DynamicsConfig.layout_dim")
    t.add_argument("--heads", type=int, default=4)
    t.add_argument("--text-layers", type=int, default=4)
    t.add_argument("--render-dim", type=int, default=64)
    t.add_argument("--render-layers", type=int, default=2)
    t.add_argument("--loose", type=float, default=0.5,
                   help="share of examples trained on a loose caption (fewer words, any order; loose_caption)")
    t.add_argument("--init", default=None, help="a train run's folder to continue from (its raw weights)")
    t.add_argument("--data-cache", default=None,
                   help="train_prior.py's .npz of encoded first frames (made and kept there if missing)")
    t.set_defaults(func=train)
    a = add_attach_args(sub, "add a trained layout prior to a dynamics export")
    a.add_argument("--first-temperature", type=float, default=None,
                   help="record this temperature of text-only first frames as the model's sampling default")
    a.add_argument("--drop-prior", action="store_true",
                   help="leave the first-frame prior out (the layout prior replaces it for text-only first frames)")
    a.set_defaults(func=attach)
    args = p.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
