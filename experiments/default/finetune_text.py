"""Fine-tune the shipped dynamics model's text conditioning, on the CPU: text -> first frame only.

The shipped model draws first frames from captions badly (results.md: 0% of text-only first frames match their
caption's count and colours). In its training a clip's first frame was 1 of 16 flow targets. Here every example is
a first frame: the caption goes through the text encoder into the prompt position, whose hidden state conditions
the flow head on the frame's latent (the same loss term as the first frame's share of the training loss).

Trained: the text encoder, text_proj and the prompt tokens (the path from a caption to the prompt position).
Frozen: everything else (transformer blocks, flow head, state head, frame and action inputs, the no-text vector), so
continuations from frames change only through the prompt position they attend to (evaluate.py measures both).

Data: first frames of training-seed clips (bouncing_balls, gravity, push) with their captions, encoded once by the
shipped tokenizer. Captions are padded to the longest one rounded up to 32 bytes instead of 384: the text encoder
masks padding (attention and pooling), so this is exact and saves compute.

    python experiments/default/finetune_text.py --out runs/text_ft --total-seconds 3600
    python experiments/default/pack.py runs/text_ft --weights raw    # then evaluate.py

Writes raw.npz / ema.npz / run.json / metrics.jsonl like train.py (pack.py reads them).
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
from worldsim.dynamics.flow import flow_loss  # noqa: E402
from worldsim.dynamics.load import DEFAULT, load as load_dynamics  # noqa: E402
from worldsim.io.params import flatten_tree  # noqa: E402
from worldsim.tokenizer.load import load as load_tokenizer  # noqa: E402

TRAINED = ("text", "text_proj", "prompt")  # top-level parameter groups the fine-tune updates
WORLDS = ("bouncing_balls", "gravity", "push")
SEED_BASE = 500_000  # training seeds (below HELD_OUT_SEED), apart from the ones the pretraining stream starts at


def first_frames(tok, n_per_world: int, max_bytes: int, chunk: int = 512) -> dict:
    """{latents (N, g, g, D), ids (N, L), mask (N, L)} of first frames with their captions."""
    zs, caps = [], []
    for w_i, name in enumerate(WORLDS):
        world = worlds.make(name, num_frames=2)
        for c in range(0, n_per_world, chunk):
            seed = SEED_BASE + 10_000 * w_i + c // chunk
            assert seed < HELD_OUT_SEED
            ep = world.sample(jax.random.key(seed), min(chunk, n_per_world - c))
            zs.append(np.asarray(tok.encode(jnp.asarray(ep.frames[:, :1])))[:, 0])
            caps += list(ep.captions)
    ids, mask, cut = encode_captions(caps, max_bytes)
    if cut:
        raise ValueError(f"{cut} captions longer than {max_bytes} bytes")
    length = int(math.ceil(mask.sum(1).max() / 32) * 32)
    return {"latents": np.concatenate(zs).astype(np.float32), "ids": ids[:, :length], "mask": mask[:, :length]}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_training_args(p, per_world=16_384, lr=3e-4, warmup=50, ema=0.998, snapshot_seconds=300.0)
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    model = load_dynamics(DEFAULT)
    tok = load_tokenizer("default")
    shipped = json.loads((DEFAULT / "config.json").read_text())
    t = time.time()
    data = first_frames(tok, args.per_world, model.config.max_text_bytes)
    n = len(data["latents"])
    print(f"{n} first frames, captions padded to {data['ids'].shape[1]} bytes, in {time.time() - t:.0f} s",
          flush=True)
    val = {k: jnp.asarray(v[-256:]) for k, v in data.items()}  # the last 256 held back for the loss curve
    dev = {k: jnp.asarray(v[:-256]) for k, v in data.items()}
    n_train = n - 256

    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    pure = nnx.to_pure_dict(params)
    train = {k: v for k, v in pure.items() if k in TRAINED}
    frozen = {k: v for k, v in pure.items() if k not in TRAINED}
    n_train_params = sum(x.size for x in jax.tree.leaves(train))
    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.scale_by_adam(), optax.add_decayed_weights(0.01))
    opt_state = tx.init(train)
    ema = jax.tree.map(jnp.copy, train)

    def loss_of(tr, batch, key):
        m = nnx.merge(graphdef, _params(tr), rest)
        emb = m.text(batch["ids"], batch["mask"])
        h = m(batch["latents"][:, None], None, text_emb=emb)  # (B, 2, N, d): position 0 predicts the frame
        return flow_loss(m.flow, h[:, :1], m.to_tokens(batch["latents"][:, None]), key)

    def _params(tr):
        """The model's parameter State with the trained groups swapped in (a copy: params stays as loaded)."""
        p_ = jax.tree.map(lambda x: x, params)
        nnx.replace_by_pure_dict(p_, {**frozen, **tr})
        return p_

    def step(tr, opt_state, ema, key, lr):
        k_idx, k_loss = jax.random.split(key)
        idx = jax.random.randint(k_idx, (args.batch,), 0, n_train)
        batch = {k: v[idx] for k, v in dev.items()}
        loss, grads = jax.value_and_grad(loss_of)(tr, batch, k_loss)
        updates, opt_state = tx.update(grads, opt_state, tr)
        tr = jax.tree.map(lambda p_, u: p_ - lr * u, tr, updates)
        ema = jax.tree.map(lambda e, p_: e + (1.0 - args.ema) * (p_ - e), ema, tr)
        return tr, opt_state, ema, loss, optax.tree.norm(grads)

    step = jax.jit(step)
    val_loss = jax.jit(lambda tr: jnp.mean(jnp.stack([loss_of(tr, val, jax.random.key(i)) for i in range(4)])))

    def snapshot(done: int, final: bool = False) -> dict:
        for name, tree in (("ema", ema), ("raw", train)):
            tmp = out / f"{name}.tmp.npz"
            full = {**frozen, **jax.tree.map(np.asarray, tree)}
            np.savez(tmp, **{k: np.asarray(v) for k, v in flatten_tree(full).items()})
            tmp.replace(out / f"{name}.npz")
        stage = {"steps": done, "seconds": round(time.time() - T0, 1), "device": str(jax.devices()[0]),
                 "batch_size": args.batch, "lr": args.lr, "context_noise": 0.0,
                 "finetune": f"text -> first frame; trained {', '.join(TRAINED)}; {n_train} first frames"}
        run = {"steps": done, "final": final, "seconds": time.time() - T0, "train": shipped["train"],
               "tokenizer_fingerprint": tokenizer_fingerprint(tok), "device": str(jax.devices()[0]),
               "jax": jax.__version__, "history": shipped.get("history", []) + [stage],
               "finetune": {**vars(args), "trained": TRAINED, "trained_params": int(n_train_params),
                            "examples": n_train, "caption_bytes": int(dev["ids"].shape[1])}}
        (out / "run.json").write_text(json.dumps(run, indent=2))
        return {"step": done, "val_flow_loss": float(val_loss(train)), "ema_val_flow_loss": float(val_loss(ema)),
                "seconds": round(time.time() - T0, 1)}

    log = open(out / "metrics.jsonl", "a")
    base = jax.random.key(args.seed)
    row = {"step": 0, "val_flow_loss": float(val_loss(train)), "seconds": round(time.time() - T0, 1)}
    print(f"{n_train_params} trained parameters; {json.dumps(row)}", flush=True)
    log.write(json.dumps(row) + "\n")

    def advance(done: int, lr: float) -> dict:
        nonlocal train, opt_state, ema
        train, opt_state, ema, loss, gnorm = step(train, opt_state, ema, jax.random.fold_in(base, done),
                                                  jnp.float32(lr))
        return {"loss": loss, "grad_norm": gnorm}

    train_until(T0 + args.total_seconds - 20, advance, snapshot, log, lr=args.lr, warmup=args.warmup,
                snapshot_seconds=args.snapshot_seconds, t0=T0)


if __name__ == "__main__":
    main()
