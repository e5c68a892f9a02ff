"""Add a motion head to a dynamics export and train it alone on the frozen trunk's hidden states; write a new export.

Why: the object anchor (worldsim/dynamics/anchor.py) moves each ball by velocities the state head reads: of the
current frame (v_t) and of the sampled next frame. v_t cannot carry what happens during the coming frame: a push
(the push world's action is an impulse at the frame's start), a bounce, gravity's pull; the sampled frame carries
them but under-moves. So anchored push rollouts answered actions less than plain ones (session 8). The trunk's
hidden state h_t has seen z_t and the action a_t and is trained to predict z_{t+1}; the motion head
(state.MotionHead) reads from it, and from the action a_t given to it again, each ball's mean velocity over the
coming frame, (pos_{t+1} - pos_t) / dt, as a change from the state head's velocity of frame t. The trunk, flow
head, state head and layout prior stay exactly as they were.

    python experiments/default/train_motion_head.py --dest runs/motion [--base default] [--clips-per-world 1024]
        [--steps 3000] [--batch 64] [--lr 1e-3] [--seed 22] [--anchor-default]

A base that already has a motion head keeps its weights as the start, except its queries, which restart from the
state head's like a new head's. The shipped head (session 9, experiments/default/results.md, "Motion head") came
from two runs: --seed 21 on session 8's export (1,024 clips per world, 3,000 steps, --anchor-default), then
--seed 23 --clips-per-world 2048 --steps 6000 on that.

Clips come from training seeds (never the evaluation seeds at or above data.HELD_OUT_SEED); the printed errors are
on held-out development seeds the report does not use (HELD_OUT_SEED + 9001), per world, beside the state head's
v_t and the true v_t used as the move.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from worldsim.data import LatentDataset
from worldsim.dynamics.load import export, load, read_meta
from worldsim.dynamics.model import DynamicsModel
from worldsim.dynamics.state import motion_loss, motion_targets
from worldsim.tokenizer.load import load as load_tokenizer
from worldsim.worlds.config import WorldConfig

from evaluate import DEV_OFFSET  # held-out seeds of development checks (the report's clips use others)
from tune_state_head import WORLDS, head_parser, hidden_states

DT = WorldConfig().dt


def with_motion_head(base: DynamicsModel, seed: int) -> DynamicsModel:
    """base's weights in a model that also has a motion head, whose queries start as the state head's (so it
    starts out pooling each colour's own tokens)."""
    model = DynamicsModel(base.config.replace(motion_head=True), rngs=nnx.Rngs(seed))
    nnx.update(model, nnx.state(base))
    model.motion_head.queries[...] = base.state_head.queries[...]
    return model


def move_errors(model: DynamicsModel, h: np.ndarray, ds: LatentDataset, first: int = 2) -> dict:
    """Mean |v - true move| (world units / s) over balls present in frames t and t + 1, t >= first, for the
    motion head, the state head's v_t, and the true v_t."""
    read = nnx.jit(lambda m, x, a: (m.read_motion(x, a), m.read_state(x).vel))
    errs = {"motion head": [], "state head v_t": [], "true v_t": []}
    for lo in range(0, len(ds), 64):
        sl = slice(lo, lo + 64)
        motion, vel = (np.asarray(a) for a in read(model, jnp.asarray(h[sl, first:-1], jnp.float32),
                                                   jnp.asarray(ds.actions[sl, first:-1], jnp.float32)))
        target, mask = motion_targets(ds.state_pos[sl, first:], ds.state_present[sl, first:], DT)
        for name, v in (("motion head", motion), ("state head v_t", vel), ("true v_t", ds.state_vel[sl, first:-1])):
            errs[name].append(np.linalg.norm(v - target, axis=-1)[mask])
    return {k: float(np.concatenate(v).mean()) for k, v in errs.items()}


def main():
    p = head_parser(__doc__, "where to write the export with the motion head",
                    "the export whose trunk the motion head reads", 1e-3, 22)
    p.add_argument("--anchor-default", action="store_true",
                   help="make the object anchor the export's default sampling (Sampling.anchor)")
    args = p.parse_args()
    t0 = time.time()
    meta = read_meta(args.base)
    tok = load_tokenizer(meta.get("tokenizer", {}).get("path", "default"))
    model = with_motion_head(load(args.base), args.seed)
    cfg = model.config
    common = dict(max_text_bytes=cfg.max_text_bytes, action_dim=cfg.action_dim, num_colours=cfg.num_colours,
                  dtype="float16", chunk=32)
    train = LatentDataset.from_worlds(tok, WORLDS, args.clips_per_world, args.frames, args.seed, cached=args.cache,
                                      **common)
    devs = {w: LatentDataset.from_worlds(tok, (w,), 64, args.frames, DEV_OFFSET, held_out=True, **common)
            for w in WORLDS[:3]}
    h_train = hidden_states(model, train)
    h_devs = {w: hidden_states(model, d) for w, d in devs.items()}
    print(f"hidden states {h_train.shape} in {time.time() - t0:.0f} s", flush=True)
    before = {w: move_errors(model, h_devs[w], d) for w, d in devs.items()}
    print("development clips, before:", json.dumps(before), flush=True)

    head, state_head = model.motion_head, model.state_head
    opt = nnx.Optimizer(head, optax.adamw(optax.warmup_cosine_decay_schedule(
        0.0, args.lr, min(200, args.steps // 10 + 1), args.steps), weight_decay=1e-4), wrt=nnx.Param)

    @nnx.jit
    def step(head, state_head, opt, h, a, target, mask):
        loss, grads = nnx.value_and_grad(lambda m: motion_loss(m(h, state_head, a), target, mask))(head)
        opt.update(head, grads)
        return loss

    rng = np.random.default_rng(args.seed)
    for i in range(args.steps):
        idx = np.sort(rng.choice(len(train), args.batch, replace=False))
        target, mask = motion_targets(train.state_pos[idx], train.state_present[idx], DT)
        loss = step(head, state_head, opt, jnp.asarray(h_train[idx, 1:-1], jnp.float32),  # frames 1..: frame 0
                    jnp.asarray(train.actions[idx, 1:-1], jnp.float32),  # shows no motion yet
                    jnp.asarray(target[:, 1:]), jnp.asarray(mask[:, 1:]))
        if i % 250 == 0 or i == args.steps - 1:
            print(f"step {i}: motion mse {float(loss):.5f} ({time.time() - t0:.0f} s)", flush=True)
    after = {w: move_errors(model, h_devs[w], d) for w, d in devs.items()}
    print("development clips, after:", json.dumps(after))
    extra = {k: v for k, v in meta.items() if k not in ("kind", "model")}
    if args.anchor_default:
        extra["sampling"] = {**extra.get("sampling", {}), "anchor": True}
    extra["motion_head"] = {**vars(args), "dev_move_err_before": before, "dev_move_err_after": after,
                            "seconds": time.time() - t0}
    export(model, args.dest, extra)
    print(f"wrote {Path(args.dest)} in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
