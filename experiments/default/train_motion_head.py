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
        [--layout [--gate] [--robust] [--drawn LO HI] [--worlds W,...]]

--layout (session 10): the head also reads the balls the anchor holds (DynamicsConfig.motion_layout): centres,
radii, the last move, its neighbours; where the last move is known it predicts the change from it. Trained on the
true states (the radii as the anchor fits them), with the last move withheld on --unknown-frac of the frames.
--gate lets it close each ball's change; --robust trains on the mean Euclidean error (state.motion_loss);
--drawn trains on hidden states of clips whose later frames are drawn by the layout renderer, as an anchored
rollout's are. A base that already has a motion head keeps its weights (queries included) as the start; a head
that newly reads the layout restarts its output at zero.

The shipped head (session 10) came from three --layout runs on the session-9 export; the commands are in
experiments/default/results.md, "Motion head with the layout". Session 9's head (--seed 21 --anchor-default,
then --seed 23 --clips-per-world 2048 --steps 6000 on that) is in the repository's history.

Clips come from training seeds (never the evaluation seeds at or above data.HELD_OUT_SEED); the printed errors are
on held-out development seeds the report does not use (HELD_OUT_SEED + 9001), per world, beside the state head's
v_t and the true v_t used as the move.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from worldsim.data import LatentDataset
from worldsim.dynamics import anchor as anchor_lib
from worldsim.dynamics.anchor import Anchor
from worldsim.dynamics.layout import Layout
from worldsim.dynamics.load import export, load, read_meta
from worldsim.dynamics.model import DynamicsModel
from worldsim.dynamics.state import motion_loss, motion_targets
from worldsim.tokenizer.load import load as load_tokenizer
from worldsim.worlds.config import WorldConfig

from evaluate import DEV_OFFSET  # held-out seeds of development checks (the report's clips use others)
from tune_state_head import WORLDS, head_parser, hidden_states

DT = WorldConfig().dt


def with_motion_head(base: DynamicsModel, seed: int, layout: bool = False, gate: bool = False) -> DynamicsModel:
    """base's weights in a model that also has a motion head (reading the anchor's layout if `layout`, gated if
    `gate`); a new head's queries start as the state head's (so it starts out pooling each colour's own tokens).
    A head that newly reads the layout restarts its output at zero: it then moves each ball by its last move where
    that is known."""
    cfg = base.config.replace(motion_head=True, motion_layout=layout or base.config.motion_layout,
                              motion_gate=gate or base.config.motion_gate)
    model = DynamicsModel(cfg, rngs=nnx.Rngs(seed))
    nnx.update(model, nnx.state(base))
    if base.motion_head is None:
        model.motion_head.queries[...] = base.state_head.queries[...]
    if cfg.motion_layout and not base.config.motion_layout:
        model.motion_head.out.kernel[...] = jnp.zeros_like(model.motion_head.out.kernel[...])
        model.motion_head.out.bias[...] = jnp.zeros_like(model.motion_head.out.bias[...])
    return model


def clip_radii(model: DynamicsModel, ds: LatentDataset, frame: int = 2) -> np.ndarray:
    """Each clip's ball radii (N, C) as the anchor fits them (to its latent frame `frame`, as it would to the last
    given frame; from the true centres): what a layout-reading motion head sees in a rollout."""
    fit = nnx.jit(lambda m, z, present, pos: anchor_lib.start(m.layout.render, z, jnp.where(present, 5.0, -5.0),
                                                              pos).radius)
    sl = [slice(lo, lo + 64) for lo in range(0, len(ds), 64)]
    return np.concatenate([np.asarray(fit(model, jnp.asarray(ds.latents[s, frame], jnp.float32),
                                          ds.state_present[s, frame], ds.state_pos[s, frame])) for s in sl])


def drawn(model: DynamicsModel, ds: LatentDataset, radii: np.ndarray, given) -> LatentDataset:
    """The clips with every frame from given[i] on (per clip) replaced by the frame the layout renderer draws of
    its true balls (the clip's fitted radii): in an anchored rollout the trunk reads such frames after the given
    ones, not encoded video, and a head trained only on the latter reads the former with an error it adds to
    every move (session 10: development move error growing ~0.03 u/s per frame)."""
    render = nnx.jit(lambda m, p, xy, r: m.layout.render(Layout(p, xy, r)))
    lat = ds.latents.copy()
    t_len = ds.num_frames
    for lo in range(0, len(ds), 64):
        s = slice(lo, lo + 64)
        n = len(ds.latents[s])
        r = np.broadcast_to(radii[s][:, None], ds.state_present[s].shape)
        z = np.asarray(render(model, *(jnp.asarray(a.reshape((n * t_len,) + a.shape[2:])) for a in
                                       (ds.state_present[s], ds.state_pos[s], r))))
        z = z.reshape((n, t_len) + z.shape[1:])
        keep = np.arange(t_len)[None, :] < np.asarray(given)[s][:, None]  # (n, T): given frames stay encoded
        lat[s] = np.where(keep[..., None, None, None], lat[s], z.astype(lat.dtype))
    return dataclasses.replace(ds, latents=lat, fingerprint="")


def balls_of(ds: LatentDataset, radii: np.ndarray, idx, frames: slice, known, rng=None, pos_noise: float = 0.0,
             move_noise: float = 0.0) -> Anchor:
    """The layout a motion head reads at `frames` (frame >= 1) of clips idx, from the true states: centres, the
    clip's fitted radii, the last move (pos_t - pos_{t-1}) / dt, known (len(idx), frames) bool; with Gaussian noise
    of the given sizes (world units, world units / s) on centres and moves."""
    t = np.arange(ds.num_frames)[frames]
    pos, present = ds.state_pos[idx][:, t], ds.state_present[idx][:, t]
    move = (pos - ds.state_pos[idx][:, t - 1]) / DT
    if rng is not None:
        pos = pos + pos_noise * rng.standard_normal(pos.shape)
        move = move + move_noise * rng.standard_normal(move.shape)
    radius = np.broadcast_to(radii[idx][:, None], present.shape)
    on = np.ones(known.shape, bool)
    return Anchor(*(jnp.asarray(a) for a in (on, present, radius, pos.astype(np.float32), move.astype(np.float32),
                                             known)))


def move_errors(model: DynamicsModel, h: np.ndarray, ds: LatentDataset, radii=None, first: int = 2) -> dict:
    """Mean |v - true move| (world units / s) over balls present in frames t and t + 1, t >= first, for the
    motion head, the state head's v_t, and the true v_t; a head that reads the layout reads the true one, with the
    last move known (and, as "motion head, last move unknown", without it)."""
    read = nnx.jit(lambda m, x, a, b: (m.read_motion(x, a, b), m.read_state(x).vel))
    layout = model.config.motion_layout
    errs = {"motion head": [], "state head v_t": [], "true v_t": []} | (
        {"motion head, last move unknown": []} if layout else {})
    for lo in range(0, len(ds), 64):
        sl, frames = np.arange(lo, min(lo + 64, len(ds))), slice(first, -1)
        x, a = jnp.asarray(h[sl, frames], jnp.float32), jnp.asarray(ds.actions[sl, frames], jnp.float32)
        target, mask = motion_targets(ds.state_pos[sl, first:], ds.state_present[sl, first:], DT)
        reads = {"true v_t": ds.state_vel[sl, frames]}
        for name, known in (("motion head", True), ("motion head, last move unknown", False)):
            if known or layout:
                b = balls_of(ds, radii, sl, frames, np.full(x.shape[:2], known)) if layout else None
                reads[name], reads["state head v_t"] = (np.asarray(v) for v in read(model, x, a, b))
        for name, v in reads.items():
            errs[name].append(np.linalg.norm(v - target, axis=-1)[mask])
    return {k: float(np.concatenate(v).mean()) for k, v in errs.items()}


def main():
    p = head_parser(__doc__, "where to write the export with the motion head",
                    "the export whose trunk the motion head reads", 1e-3, 22)
    p.add_argument("--anchor-default", action="store_true",
                   help="make the object anchor the export's default sampling (Sampling.anchor)")
    p.add_argument("--layout", action="store_true",
                   help="the head also reads the anchor's layout: centres, radii, last moves (DynamicsConfig."
                        "motion_layout)")
    p.add_argument("--worlds", default=",".join(WORLDS), help="comma-separated world entries of the training clips")
    p.add_argument("--unknown-frac", type=float, default=0.15,
                   help="with --layout: fraction of training frames whose last move is withheld (as at the first "
                        "generated frame after a single given one)")
    p.add_argument("--pos-noise", type=float, default=0.002, help="with --layout: noise on centres, world units")
    p.add_argument("--move-noise", type=float, default=0.01, help="with --layout: noise on last moves, units/s")
    p.add_argument("--gate", action="store_true", help="with --layout: gate each ball's change (DynamicsConfig."
                   "motion_gate)")
    p.add_argument("--robust", action="store_true",
                   help="train on the mean Euclidean move error instead of the squared error (state.motion_loss)")
    p.add_argument("--drawn", type=int, nargs=2, default=None, metavar=("LO", "HI"),
                   help="with --layout: train on clips whose frames from G on (G uniform in [LO, HI] per clip) are "
                        "drawn by the layout renderer from the true balls, as an anchored rollout draws them after "
                        "G given frames; development clips then have 3 given frames, as the report's")
    args = p.parse_args()
    if (args.drawn or args.gate) and not args.layout:
        p.error("--drawn and --gate work on a head that reads the layout: add --layout")
    t0 = time.time()
    meta = read_meta(args.base)
    tok = load_tokenizer(meta.get("tokenizer", {}).get("path", "default"))
    model = with_motion_head(load(args.base), args.seed, args.layout, args.gate)
    cfg = model.config
    common = dict(max_text_bytes=cfg.max_text_bytes, action_dim=cfg.action_dim, num_colours=cfg.num_colours,
                  dtype="float16", chunk=32)
    train = LatentDataset.from_worlds(tok, args.worlds.split(","), args.clips_per_world, args.frames, args.seed,
                                      cached=args.cache, **common)
    devs = {w: LatentDataset.from_worlds(tok, (w,), 64, args.frames, DEV_OFFSET, held_out=True, **common)
            for w in WORLDS[:3]}
    layout = cfg.motion_layout
    r_train = None
    if layout:  # the fit takes ~10 minutes for 6,144 clips: kept beside the clip cache
        radii_file = Path(args.cache).with_suffix(".radii.npy") if args.cache else None
        if radii_file and radii_file.exists() and len(r := np.load(radii_file)) == len(train):
            r_train = r
        else:
            r_train = clip_radii(model, train)
            if radii_file:
                np.save(radii_file, r_train)
    r_devs = {w: clip_radii(model, d) if layout else None for w, d in devs.items()}
    if args.drawn:
        lo, hi = args.drawn
        train = drawn(model, train, r_train, np.random.default_rng(args.seed).integers(lo, hi + 1, len(train)))
        devs = {w: drawn(model, d, r_devs[w], np.full(len(d), 3)) for w, d in devs.items()}
        print(f"radii fitted, frames drawn in {time.time() - t0:.0f} s", flush=True)
    h_train = hidden_states(model, train)
    h_devs = {w: hidden_states(model, d) for w, d in devs.items()}
    print(f"hidden states {h_train.shape} in {time.time() - t0:.0f} s", flush=True)
    before = {w: move_errors(model, h_devs[w], d, r_devs[w]) for w, d in devs.items()}
    print("development clips, before:", json.dumps(before), flush=True)

    head, state_head = model.motion_head, model.state_head
    opt = nnx.Optimizer(head, optax.adamw(optax.warmup_cosine_decay_schedule(
        0.0, args.lr, min(200, args.steps // 10 + 1), args.steps), weight_decay=1e-4), wrt=nnx.Param)

    @nnx.jit
    def step(head, state_head, opt, h, a, balls, target, mask):
        loss, grads = nnx.value_and_grad(lambda m: motion_loss(m(h, state_head, a, balls), target, mask,
                                                                             args.robust))(head)
        opt.update(head, grads)
        return loss

    rng = np.random.default_rng(args.seed)
    frames = slice(1, -1)  # frames 1..: frame 0 shows no motion yet (and has no last move)
    for i in range(args.steps):
        idx = np.sort(rng.choice(len(train), args.batch, replace=False))
        target, mask = motion_targets(train.state_pos[idx], train.state_present[idx], DT)
        balls = None
        if layout:
            known = rng.random((args.batch, args.frames - 2)) >= args.unknown_frac
            balls = balls_of(train, r_train, idx, frames, known, rng, args.pos_noise, args.move_noise)
        loss = step(head, state_head, opt, jnp.asarray(h_train[idx, frames], jnp.float32),
                    jnp.asarray(train.actions[idx, frames], jnp.float32), balls,
                    jnp.asarray(target[:, 1:]), jnp.asarray(mask[:, 1:]))
        if i % 250 == 0 or i == args.steps - 1:
            name = "error" if args.robust else "mse"
            print(f"step {i}: motion {name} {float(loss):.5f} ({time.time() - t0:.0f} s)", flush=True)
    after = {w: move_errors(model, h_devs[w], d, r_devs[w]) for w, d in devs.items()}
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
