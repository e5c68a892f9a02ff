"""Dynamics training: clips encoded once by a frozen tokenizer, teacher-forced flow matching + state readout, AdamW
with warmup + cosine, orbax checkpoints, auto-resume, validation against copy/extrapolation baselines, sample videos.

    worldsim train dynamics --preset small --workdir runs/dynamics --tokenizer runs/tokenizer_small/model
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from worldsim.data import HELD_OUT_SEED
from worldsim.data.latents import LatentDataset, concat, tokenizer_fingerprint
from worldsim.data.mixture import _parse
from worldsim.dynamics import DynamicsConfig, DynamicsModel, flow_loss
from worldsim.dynamics.load import STATE_LABELS, export, read_meta
from worldsim.dynamics.losses import first_frame_prior_loss
from worldsim.dynamics.state import StatePred
from worldsim.train import hosts, interrupt
from worldsim.train.checkpoint import Checkpointer, resume_check
from worldsim.train.logging import NullLogger, TrainLogger
from worldsim.train.mesh import check_batch, constrain, make_mesh, place, replicate, shard_batch
from worldsim.train.self_rollout import SelfRollout, self_context
from worldsim.train.warm_start import warm_start


@dataclass(frozen=True)
class DynamicsTrainConfig:
    model: DynamicsConfig = field(default_factory=DynamicsConfig.small)  # the dynamics model (grid/latent_dim = tokenizer's)
    tokenizer: str = "default"  # exported tokenizer directory (worldsim.tokenizer.load), or "default"
    worlds: tuple[str, ...] = ("bouncing_balls", "gravity", "push", "bouncing_balls+occluder")  # world entries
    clips_per_world: int = 1500  # clips encoded per world entry, once (~11 clips/s on 2 CPU cores), cached in workdir
    clip_frames: int = 16  # frames per training clip (> model.window, so the attention window slides in training)
    video_folder: str | None = None  # optional folder of your own .mp4/.gif clips (see worldsim.data.VideoFolder)
    video_clips: int = 512  # windows of clip_frames encoded from video_folder (when given)
    batch_size: int = 16  # clips per optimizer step
    steps: int = 6000  # total optimizer steps (~2 s each on 2 busy CPU cores: about 3.5 h)
    lr: float = 5e-4  # peak learning rate
    warmup: int = 300  # linear warmup steps, then cosine decay to 2% of lr
    weight_decay: float = 0.01  # AdamW decoupled weight decay
    clip_norm: float = 1.0  # global gradient-norm clip
    text_dropout: float = 0.1  # probability of dropping a clip's caption (trains the no-text case; CFG later)
    context_noise: float = 0.0  # max std of Gaussian noise on the model's input latents (per clip, uniform in
    # [0, max]); targets stay clean, so the model learns to correct slightly-off frames as its own rollouts make them
    frame_noise: bool = False  # context noise drawn per frame (independent stds in [0, context_noise]) and told to
    # the model (needs model.noise_embed); off: one std per clip, not told (the shipped run)
    self_rollout: int = 0  # passes of the model's own samples as context (0 = off; see self_context): after k
    # passes the replaced frames hold k-step rollout errors, and the targets stay the true frames
    self_rollout_share: float = 0.5  # share of clips whose context is replaced from a random frame on
    self_rollout_steps: int = 4  # Euler steps of those (gradient-free) samples
    self_rollout_temperature: float = 0.5  # their temperature (the shipped sampling's)
    init: str | None = None  # start from an exported dynamics model ("default" = the shipped one): every weight
    # whose name and shape match is copied (fine-tuning); a fresh optimizer and schedule
    state_weight: float = 1.0  # weight of the per-colour state readout loss (clips with ground-truth state only)
    latent_dtype: str = "float16"  # storage of the encoded clips ("float16" halves memory; batches are float32)
    encode_chunk: int = 32  # clips per tokenizer call while encoding the dataset
    val_clips: int = 16  # held-out clips (world seeds >= data.HELD_OUT_SEED) for validation and sample videos
    val_every: int = 500  # validation metrics every this many steps (0 = never)
    sample_every: int = 1000  # sample video every this many steps (0 = never)
    prompt_frames: int = 3  # ground-truth frames a sample video is conditioned on before generating
    seed: int = 0  # init, data and noise seed (training seeds stay below data.HELD_OUT_SEED)
    log_every: int = 25  # training metrics to metrics.jsonl / TensorBoard every this many steps
    save_every: int = 250  # checkpoint every this many steps (and at the end)

    def __post_init__(self):
        for name in ("clips_per_world", "clip_frames", "video_clips", "batch_size", "steps", "encode_chunk",
                     "val_clips", "prompt_frames", "log_every", "save_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}={v!r} must be an integer >= 1")
        for name in ("warmup", "val_every", "sample_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 0")
        if self.clip_frames < 3:
            raise ValueError(f"clip_frames={self.clip_frames}: use at least 3 (validation extrapolates from 2 frames)")
        if self.clip_frames <= self.model.window:
            raise ValueError(f"clip_frames={self.clip_frames} must exceed the model's window={self.model.window}, "
                             "so training sees the attention window slide")
        if self.prompt_frames >= self.clip_frames:
            raise ValueError(f"prompt_frames={self.prompt_frames} must be < clip_frames={self.clip_frames}")
        if not 0 < self.lr < 1:
            raise ValueError(f"lr={self.lr}: use a learning rate in (0, 1)")
        if not 0 <= self.context_noise < 1:
            raise ValueError(f"context_noise={self.context_noise}: use a noise std in [0, 1)")
        if self.self_rollout < 0 or self.self_rollout_steps < 1 or not 0 < self.self_rollout_share <= 1 \
                or self.self_rollout_temperature < 0:
            raise ValueError(f"self_rollout={self.self_rollout} must be >= 0, self_rollout_steps="
                             f"{self.self_rollout_steps} >= 1, self_rollout_share={self.self_rollout_share} in (0, 1] "
                             f"and self_rollout_temperature={self.self_rollout_temperature} >= 0")
        if self.frame_noise and not (self.model.noise_embed and self.context_noise > 0):
            raise ValueError("frame_noise=True tells the model each frame's noise level: it needs "
                             "model.noise_embed=True and context_noise > 0")
        if not 0 <= self.text_dropout < 1:
            raise ValueError(f"text_dropout={self.text_dropout}: use a probability in [0, 1)")
        if self.state_weight < 0 or self.weight_decay < 0 or self.clip_norm <= 0:
            raise ValueError("state_weight and weight_decay must be >= 0 and clip_norm > 0")
        if self.latent_dtype not in ("float32", "float16"):
            raise ValueError(f"latent_dtype={self.latent_dtype!r}: use 'float32' or 'float16'")
        if not 0 <= self.seed < HELD_OUT_SEED:
            raise ValueError(f"seed={self.seed}: training seeds must be in [0, {HELD_OUT_SEED})")
        if not self.worlds and not self.video_folder:
            raise ValueError("nothing to train on: give worlds, a video_folder, or both")
        import worldsim.worlds as worlds_lib

        for entry in self.worlds:
            name, _ = _parse(entry)
            if name not in worlds_lib.names():
                raise ValueError(f"unknown world {name!r} in worlds: valid names are {', '.join(worlds_lib.names())}")

    def replace(self, **kw) -> "DynamicsTrainConfig":
        return dataclasses.replace(self, **kw)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["model"] = self.model.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "DynamicsTrainConfig":
        d = dict(d)
        d["model"] = DynamicsConfig.from_dict(d["model"])
        d["worlds"] = tuple(d["worlds"])
        return cls(**d)

    @classmethod
    def tiny(cls) -> "DynamicsTrainConfig":
        """Seconds on CPU: tests. Needs a TokenizerConfig.tiny() tokenizer (4x4x8 latents): pass tokenizer=PATH."""
        return cls(
            model=DynamicsConfig.tiny(), worlds=("bouncing_balls", "push"), clips_per_world=8, clip_frames=6,
            video_clips=8, batch_size=4, steps=40, lr=3e-3, warmup=5, latent_dtype="float32", encode_chunk=8,
            val_clips=4, val_every=20, sample_every=40, log_every=5, save_every=10,
        )

    @classmethod
    def small(cls) -> "DynamicsTrainConfig":
        """The shipped default's dynamics over TokenizerConfig.small() latents (8x8x16), with the input noise that
        measurably steadied its rollouts (experiments/default/results.md)."""
        return cls(context_noise=0.1)


def fit_to_tokenizer(cfg: DynamicsTrainConfig, tokenizer=None) -> DynamicsTrainConfig:
    """cfg with the model's grid/latent_dim set to those of cfg.tokenizer (or the given Tokenizer)."""
    if tokenizer is None:
        from worldsim.tokenizer.load import load

        tokenizer = load(cfg.tokenizer)
    tc = tokenizer.config
    return cfg.replace(model=cfg.model.replace(grid=tc.grid, latent_dim=tc.latent_dim))


def schedule(cfg: DynamicsTrainConfig) -> optax.Schedule:
    return _schedule(cfg.lr, cfg.warmup, cfg.steps)


def _schedule(lr: float, warmup: int, steps: int) -> optax.Schedule:
    return optax.warmup_cosine_decay_schedule(0.0, lr, warmup, max(steps, warmup + 1), lr * 0.02)


@functools.lru_cache(maxsize=16)
def _transform(lr: float, warmup: int, steps: int, weight_decay: float, clip_norm: float):
    """One optax object per setting: the optimizer is part of train_step's static structure, so a fresh (unequal)
    object per run would recompile the step in every run of a process."""
    adamw = optax.adamw(_schedule(lr, warmup, steps), weight_decay=weight_decay)
    return optax.chain(optax.clip_by_global_norm(clip_norm), adamw)


def make_optimizer(cfg: DynamicsTrainConfig, model: DynamicsModel) -> nnx.Optimizer:
    tx = _transform(cfg.lr, cfg.warmup, cfg.steps, cfg.weight_decay, cfg.clip_norm)
    return nnx.Optimizer(model, tx, wrt=nnx.Param)


# ----- the objective -----


def masked_state_loss(pred: StatePred, pos, vel, present, has_state) -> tuple[jax.Array, dict]:
    """dynamics.state_loss restricted to clips with ground-truth state (has_state (B,)); equal to it when every
    clip has state, and zero for a batch without any."""
    w = has_state.astype(jnp.float32)[:, None, None]  # (B, 1, 1)
    p = present.astype(jnp.float32) * w  # (B, T, C)
    bce_all = optax.sigmoid_binary_cross_entropy(pred.present_logit, p) * w
    bce = jnp.sum(bce_all) / jnp.maximum(jnp.sum(jnp.broadcast_to(w, p.shape)), 1.0)
    count = jnp.maximum(jnp.sum(p) * 2.0, 1.0)
    pos_mse = jnp.sum(p[..., None] * (pred.pos - pos) ** 2) / count
    vel_mse = jnp.sum(p[..., None] * (pred.vel - vel) ** 2) / count
    return bce + pos_mse + vel_mse, {"state_bce": bce, "state_pos_mse": pos_mse, "state_vel_mse": vel_mse}


def batch_loss(model: DynamicsModel, batch: dict, key, text_dropout: float, state_weight: float,
               context_noise: float = 0.0, rollout: SelfRollout | None = None, frame_noise: bool = False):
    """-> (loss, metrics, hidden (B, T + 1, N, d)). With text_dropout = 0, context_noise = 0, no rollout and every
    clip holding state this is dynamics.teacher_forced_loss(model, latents, key, ...) exactly. rollout: the
    model's own samples replace part of the context (self_rollout.py); the targets stay the true frames."""
    z = batch["latents"]  # (B, T, g, g, D)
    keep = jax.random.uniform(jax.random.fold_in(key, 1), (z.shape[0],)) >= text_dropout
    mask = batch["text_mask"] & keep[:, None]  # a dropped caption = an all-False mask = "no text"
    z_in = z
    if rollout is not None and rollout.passes > 0:
        z_in = self_context(model, z, batch["actions"], (batch["text_ids"], mask), jax.random.fold_in(key, 5),
                            rollout)
    level = None
    if context_noise > 0:  # noisy inputs, clean targets (noise augmentation against rollout drift)
        shape = z.shape[:2] if frame_noise else z.shape[:1]  # a std per frame (told to the model) or per clip
        level = context_noise * jax.random.uniform(jax.random.fold_in(key, 2), shape)
        std = level.reshape(shape + (1,) * (z.ndim - len(shape)))
        z_in = z_in + std * jax.random.normal(jax.random.fold_in(key, 3), z.shape)
    h = model(z_in, batch["actions"], text=(batch["text_ids"], mask), noise_level=level if frame_noise else None)
    loss = flow = flow_loss(model.flow, h[:, : z.shape[1]], model.to_tokens(z), key)
    metrics = {"flow_loss": flow}
    if model.prior is not None:  # first frames from their captions, swapped for the null prompt as often
        prior = first_frame_prior_loss(model, z, batch["text_ids"], batch["text_mask"], key, drop=text_dropout)
        loss = loss + prior
        metrics["prior_loss"] = prior
    if model.state_head is not None and state_weight > 0:
        s_loss, parts = masked_state_loss(
            model.read_state(h[:, 1:]), batch["state_pos"], batch["state_vel"], batch["state_present"],
            batch["has_state"],
        )
        loss = loss + state_weight * s_loss
        metrics.update(parts, state_loss=s_loss)
    metrics["loss"] = loss
    return loss, metrics, h


_STEP_KEYS = ("latents", "actions", "text_ids", "text_mask", "state_pos", "state_vel", "state_present", "has_state")


def rollout_settings(cfg: DynamicsTrainConfig) -> SelfRollout | None:
    """The config's self-rollout settings (None when off)."""
    if not cfg.self_rollout:
        return None
    return SelfRollout(cfg.self_rollout, cfg.self_rollout_share, cfg.self_rollout_steps, cfg.self_rollout_temperature)


@nnx.jit(static_argnames=("text_dropout", "state_weight", "context_noise", "mesh", "rollout", "frame_noise"))
def train_step(model: DynamicsModel, opt: nnx.Optimizer, batch: dict, key, text_dropout: float, state_weight: float,
               context_noise: float = 0.0, mesh=None, rollout: SelfRollout | None = None, frame_noise: bool = False):
    """One optimizer step. With a mesh (worldsim.train.mesh), the updated state keeps its FSDP shardings."""
    def loss_fn(m):
        loss, metrics, _ = batch_loss(m, batch, key, text_dropout, state_weight, context_noise, rollout,
                                      frame_noise)
        return loss, metrics

    (_, metrics), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
    opt.update(model, grads)
    if mesh is not None:
        constrain(model, mesh)
        constrain(opt, mesh)
    return {**metrics, "grad_norm": optax.tree.norm(grads)}


@nnx.jit
def eval_step(model: DynamicsModel, batch: dict, key) -> dict:
    """Teacher-forced losses on held-out clips, plus one-step prediction error in latent space: a sampled next
    frame vs the copy-last-frame and linear-extrapolation (latent constant velocity) baselines."""
    _, metrics, h = batch_loss(model, batch, key, 0.0, 1.0)
    z = batch["latents"]  # (B, T, g, g, D); h[:, p] predicts z[:, p]
    pred = model.sample_frame(h[:, 2 : z.shape[1]], jax.random.fold_in(key, 2))  # z_2 .. z_{T-1}
    target = z[:, 2:]
    out = {f"val_{k}": v for k, v in metrics.items()}
    out["val_next_mse"] = jnp.mean((pred - target) ** 2)
    out["val_copy_mse"] = jnp.mean((z[:, 1:-1] - target) ** 2)
    out["val_extrap_mse"] = jnp.mean((2 * z[:, 1:-1] - z[:, :-2] - target) ** 2)
    return out


# ----- generation for sample videos -----

_prefill = nnx.jit(lambda m, cache, ids, mask: m.prefill(cache, text=(ids, mask)))
_advance = nnx.jit(lambda m, cache, z, a: m.step(cache, z, a))
_advance_noisy = nnx.jit(lambda m, cache, z, a, level: m.step(cache, z, a, level))
_sample = nnx.jit(lambda m, h, key, temperature: m.sample_frame(h, key, temperature=temperature))
_sample_guided = nnx.jit(lambda m, h, hu, key, temperature, guidance: m.sample_frame(
    h, key, temperature=temperature, h_uncond=hu, guidance=guidance))
_sample_prior = nnx.jit(lambda m, ids, mask, key, temperature, guidance: m.sample_first_frame(
    ids, mask, key, temperature=temperature, guidance=guidance), static_argnames="guidance")
_decode = nnx.jit(lambda tok, z: tok.decode(z))


_reencode = nnx.jit(lambda tok, prev, z: tok.encode(jnp.stack([prev, tok.decode(z[:, None])[:, 0]], axis=1))[:, 1])


def generate(model: DynamicsModel, latents, actions, text, prompt_frames: int, key, *,
             temperature: float = 1.0, reproject=None, guidance: float = 1.0,
             context_noise: float = 0.0) -> np.ndarray:
    """Condition on the first `prompt_frames` latent frames of clips (B, T, g, g, D) (or one clip (T, g, g, D)),
    their captions (ids, mask) and actions (B, T, A); sample the rest one frame at a time with the KV cache.
    prompt_frames=0 generates from the text alone. Returns latents shaped like `latents`.

    reproject: a Tokenizer; each sampled latent is decoded and encoded again (with the previous decoded frame, the
    tokenizer's whole temporal context), which pulls it back onto the latents real frames make.
    A generated first frame comes from the model's first-frame prior where it has one and the clip has a caption,
    else from the flow head. guidance != 1: classifier-free guidance of a generated first frame towards the
    caption (the prior's, or the flow head's when the model has no prior). context_noise: for a model with a
    noise-level embedding (DynamicsConfig.noise_embed), each generated frame enters the context with Gaussian noise
    of this std, and the model is told so (given frames enter clean), as diffusion forcing samples."""
    if context_noise and not model.config.noise_embed:
        raise ValueError(f"context_noise={context_noise} needs a model with a noise-level embedding "
                         "(DynamicsConfig.noise_embed=True): use context_noise=0")
    single = np.ndim(latents) == 4
    if single:
        latents, actions = latents[None], actions[None]
        text = tuple(np.asarray(x)[None] for x in text)
    ids, mask = (jnp.asarray(x) for x in text)
    b, t_len = latents.shape[:2]
    h, cache = _prefill(model, model.init_cache(b), ids, mask)
    out, prev = [], None
    for t in range(t_len):
        k_t, temp = jax.random.fold_in(key, t), jnp.float32(temperature)
        if t < prompt_frames:
            z = jnp.asarray(latents[:, t], jnp.float32)
        elif t == 0 and model.has_first_frame_prior:  # a first-frame prior; rows without text fall back to the flow
            z = jnp.where(mask.any(-1)[:, None, None, None],  # head
                          _sample_prior(model, ids, mask, k_t, temp, guidance=float(guidance)),
                          _sample(model, h, k_t, temp))
        elif t == 0 and guidance != 1.0:
            h_u, _ = _prefill(model, model.init_cache(b), ids, jnp.zeros_like(mask))
            z = _sample_guided(model, h, h_u, k_t, temp, jnp.float32(guidance))
        else:
            z = _sample(model, h, k_t, temp)
        if reproject is not None and t >= prompt_frames and t > 0:
            z = _reencode(reproject, prev, z)
        if reproject is not None:
            prev = _decode(reproject, z[:, None])[:, 0]
        out.append(np.asarray(z))
        if t + 1 < t_len:
            if context_noise and t >= prompt_frames:
                z_in = z + context_noise * jax.random.normal(jax.random.fold_in(k_t, 7), z.shape)
                h, cache = _advance_noisy(model, cache, z_in, jnp.asarray(actions[:, t]), jnp.float32(context_noise))
            else:
                h, cache = _advance(model, cache, z, jnp.asarray(actions[:, t]))
    gen = np.stack(out, axis=1)
    return gen[0] if single else gen


def sample_video(model, tokenizer, val: LatentDataset, index: int, prompt_frames: int, key) -> np.ndarray:
    """uint8 (T, H, 2W, 3): tokenizer reconstruction of the ground truth | generated. A bar on top of the right
    half marks conditioning frames (green) and generated ones (red)."""
    i = index % len(val)
    gen = generate(model, val.latents[i].astype(np.float32), val.actions[i], (val.text_ids[i], val.text_mask[i]),
                   prompt_frames, key)
    truth = np.asarray(_decode(tokenizer, jnp.asarray(val.latents[i][None], jnp.float32)))[0]
    fake = np.asarray(_decode(tokenizer, jnp.asarray(gen[None])))[0].copy()
    bar = max(1, fake.shape[1] // 32)
    fake[:prompt_frames, :bar] = (0, 200, 0)
    fake[prompt_frames:, :bar] = (200, 0, 0)
    return np.concatenate([truth, fake], axis=2)


# ----- the loop -----


def _datasets(cfg: DynamicsTrainConfig, tokenizer, workdir: Path, quiet: bool) -> tuple[LatentDataset, LatentDataset]:
    m = cfg.model
    common = dict(chunk=cfg.encode_chunk, max_text_bytes=m.max_text_bytes, action_dim=m.action_dim,
                  num_colours=m.num_colours, dtype=cfg.latent_dtype, quiet=quiet)
    cache = workdir / "latents"
    parts = []
    if cfg.worlds:
        parts.append(LatentDataset.from_worlds(tokenizer, cfg.worlds, cfg.clips_per_world, cfg.clip_frames, cfg.seed,
                                               cached=cache / "worlds.npz", **common))
    if cfg.video_folder:
        parts.append(LatentDataset.from_video_folder(tokenizer, cfg.video_folder, cfg.video_clips, cfg.clip_frames,
                                                     cfg.seed, cached=cache / "videos.npz", **common))
    if cfg.worlds:  # held out: evaluation seeds
        per_world = max(1, -(-cfg.val_clips // len(cfg.worlds)))
        val = LatentDataset.from_worlds(tokenizer, cfg.worlds, per_world, cfg.clip_frames, cfg.seed, held_out=True,
                                        cached=cache / "val.npz", **common)
    else:  # the user's videos have no held-out split: other windows of the same videos
        val = LatentDataset.from_video_folder(tokenizer, cfg.video_folder, cfg.val_clips, cfg.clip_frames,
                                              cfg.seed + 1, cached=cache / "val_videos.npz", **common)
    return (parts[0] if len(parts) == 1 else concat(parts)), val


def _resume(ckpt: Checkpointer, model, opt, cfg: DynamicsTrainConfig, tok_fp: str, workdir: Path) -> int:
    """Restore the latest checkpoint (if any) into model and opt; returns its step (0 for a fresh run). Refuses a
    workdir that holds a run with other settings or over another tokenizer."""
    start = ckpt.latest_step() or 0
    if start:
        saved = ckpt.restore(start, {"model": model, "opt": opt})
        resume_check(saved, cfg, workdir, start)
        if saved.get("tokenizer_fingerprint") != tok_fp:
            raise ValueError(f"the tokenizer at {cfg.tokenizer!r} changed since {workdir} was started (different "
                             "weights): use a new --workdir, or restore the original tokenizer")
    return start


def _datasets_once(cfg, tokenizer, workdir: Path, quiet: bool) -> tuple[LatentDataset, LatentDataset]:
    """Process 0 encodes (or loads) the latent cache first, the others then read it: no two processes write the
    same file. (Hosts without a shared disk encode their own, identical, copy.)"""
    if not hosts.is_main():
        hosts.barrier("worldsim-latents")
    out = _datasets(cfg, tokenizer, workdir, quiet)
    if hosts.is_main():
        hosts.barrier("worldsim-latents")
    return out


def _drop_metrics_after(path: Path, step: int) -> None:
    """Keep metrics.jsonl lines up to `step` only, so a resumed run does not log some steps twice."""
    if not path.exists():
        return
    lines = [x for x in path.read_text().splitlines() if x.strip() and json.loads(x).get("step", 0) <= step]
    path.write_text("".join(x + "\n" for x in lines))


def state_labels(cfg: DynamicsTrainConfig, data: LatentDataset) -> int | None:
    """Labelled clips (with ground-truth state) the state head trained on, recorded in the export so that loading
    drops a head that saw none (dynamics.load.state_head_trained). A run on videos alone, or with state_weight=0,
    adds none to those of the export it started from (cfg.init; None where that export does not record them, as
    the shipped one does not: it is trusted)."""
    own = int(np.sum(data.has_state)) if cfg.state_weight > 0 and cfg.model.state_head else 0
    if own or not cfg.init:
        return own
    return read_meta(cfg.init).get(STATE_LABELS)


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        from worldsim.io.tqdm_bar import tqdm

        tqdm.write(text)


def train(cfg: DynamicsTrainConfig, workdir: str | Path, *, quiet: bool = False, mesh=None) -> DynamicsModel:
    """Train (resuming from workdir's latest checkpoint if any); exports the final model to workdir/model.

    mesh: a worldsim.train.mesh spec ('data=4,fsdp=2') or Mesh; default one device (several processes: data
    parallel over all). The global batch is the same for any mesh, so is the training up to float rounding."""
    from worldsim.tokenizer.load import load as load_tokenizer

    if cfg.model.layout_dim:  # the clips' states carry no radii, which the layout prior's renderer needs
        raise ValueError(f"model.layout_dim={cfg.model.layout_dim}: `worldsim train dynamics` does not train a "
                         "layout prior; set layout_dim=0 here and train one apart (experiments/default/"
                         "train_layout.py)")
    workdir = Path(workdir)
    mesh = make_mesh(mesh)
    check_batch(cfg.batch_size, mesh)
    main = hosts.is_main()
    quiet = quiet or not main
    tokenizer = load_tokenizer(cfg.tokenizer)
    tc, m = tokenizer.config, cfg.model
    if (m.grid, m.latent_dim) != (tc.grid, tc.latent_dim):
        raise ValueError(
            f"the dynamics model takes {m.grid}x{m.grid}x{m.latent_dim} latents but tokenizer {cfg.tokenizer!r} makes "
            f"{tc.grid}x{tc.grid}x{tc.latent_dim}: set model grid/latent_dim to match "
            "(worldsim.train.dynamics.fit_to_tokenizer(cfg) does it)"
        )
    tok_fp = tokenizer_fingerprint(tokenizer)
    model = DynamicsModel(cfg.model, rngs=nnx.Rngs(cfg.seed))
    opt = make_optimizer(cfg, model)
    place(model, mesh)  # before restoring: a checkpoint restores onto this mesh's shardings, whatever wrote it
    place(opt, mesh)
    ckpt = Checkpointer(workdir / "checkpoints")
    log = None
    try:
        start = _resume(ckpt, model, opt, cfg, tok_fp, workdir)
        if cfg.init and not start:  # a fresh fine-tuning run: the export's weights, then this optimizer
            copied, fresh = warm_start(model, cfg.init)
            _say(quiet, f"started from {cfg.init}: {copied} weights copied, {len(fresh)} left new"
                 + (f" ({', '.join(fresh[:4])}{', ...' if len(fresh) > 4 else ''})" if fresh else ""))
            place(model, mesh)
        if main:
            (workdir / "train_config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
        meta = {"train": cfg.to_dict(), "tokenizer_fingerprint": tok_fp}

        def save(step: int) -> None:
            ckpt.save(step, {"model": model, "opt": opt}, {**meta, "step": step})

        # Ctrl+C waits for the setup or the step under way, which is then saved (interrupt.py): never mid-compile
        # or mid-write.
        with interrupt.guard(ckpt.directory, start or None, save, cfg.steps) as stop:
            t0 = time.time()
            data, val = _datasets_once(cfg, tokenizer, workdir, quiet)
            _say(quiet, f"latents: {len(data)} training clips, {len(val)} validation clips "
                        f"({time.time() - t0:.1f} s)")
            if data.captions_truncated:
                _say(quiet, f"note: {data.captions_truncated} captions were cut to "
                            f"max_text_bytes={m.max_text_bytes}")
            val_batch = {k: getattr(val, k) for k in _STEP_KEYS}  # every held-out clip once, in order
            val_batch = replicate({**val_batch, "latents": val_batch["latents"].astype(np.float32)}, mesh)

            if main:
                # a killed run may have logged past its checkpoint
                _drop_metrics_after(workdir / "metrics.jsonl", start)
                log = TrainLogger(workdir, cfg.steps, start, quiet=quiet,
                                  frames_per_step=cfg.batch_size * cfg.clip_frames)
            else:
                log = NullLogger()
            lr_at = schedule(cfg)
            rollout = rollout_settings(cfg)
            base = jax.random.key(cfg.seed)
            stop.before_first_step()
            for step in range(start, cfg.steps):
                b = data.batch(step, cfg.batch_size, cfg.seed, cfg.clip_frames)
                batch = shard_batch({k: b[k] for k in _STEP_KEYS}, mesh)  # this process's rows of the global batch
                metrics = train_step(model, opt, batch, jax.random.fold_in(base, step), cfg.text_dropout,
                                     cfg.state_weight, cfg.context_noise, mesh=mesh, rollout=rollout,
                                     frame_noise=cfg.frame_noise)
                done = step + 1
                loss = float(metrics["loss"])  # every step (cheap on CPU): never train on, or checkpoint, a NaN
                if not np.isfinite(loss):
                    raise FloatingPointError(f"non-finite loss={loss} at step {done}: lower the learning rate or "
                                             "check the data (the last checkpoint is still good)")
                log.advance()
                out = {}
                if done % cfg.log_every == 0 or done == cfg.steps:
                    out.update({k: float(v) for k, v in metrics.items()}, lr=float(lr_at(step)))
                if cfg.val_every and (done % cfg.val_every == 0 or done == cfg.steps):
                    val_key = jax.random.key(HELD_OUT_SEED)  # the same noise every time: comparable over training
                    out.update({k: float(v) for k, v in eval_step(model, val_batch, val_key).items()})
                if out:
                    log.scalars(done, out)
                if cfg.sample_every and done % cfg.sample_every == 0:
                    whole = hosts.local_copy(model)  # collective; then process 0 samples on its own device
                    if main:
                        video = sample_video(whole, tokenizer, val, done // cfg.sample_every - 1, cfg.prompt_frames,
                                             jax.random.fold_in(jax.random.key(HELD_OUT_SEED), done))
                        log.video(done, "sample", video, tag="val/sample")  # held-out clips
                if done % cfg.save_every == 0 or done == cfg.steps:
                    stop.save(done)
                stop.after(done)
    finally:
        if log is not None:
            log.close()
        ckpt.close()
    tok_path = cfg.tokenizer if cfg.tokenizer == "default" else str(Path(cfg.tokenizer).absolute())
    with interrupt.guard(ckpt.directory, cfg.steps, None, cfg.steps):  # training is over: Ctrl+C lets this finish
        whole = hosts.local_copy(model)
        if main:
            export(whole, workdir / "model", {"train": cfg.to_dict(), "steps": cfg.steps,
                                              STATE_LABELS: state_labels(cfg, data),
                                              "tokenizer": {"path": tok_path, "fingerprint": tok_fp,
                                                            "model": tc.to_dict()}})
        hosts.barrier("worldsim-export")  # no process returns before the model is on disk
    return model
