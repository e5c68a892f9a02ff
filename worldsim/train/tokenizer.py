"""Tokenizer training: streams world-mixture clips, AdamW with warmup + cosine, orbax checkpoints, auto-resume.

    worldsim train tokenizer --preset small --workdir runs/tokenizer
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from worldsim.data import VideoFolder, WorldMixture
from worldsim.tokenizer import Tokenizer, TokenizerConfig
from worldsim.tokenizer.load import export
from worldsim.train import hosts, interrupt
from worldsim.train.checkpoint import Checkpointer, resume_check
from worldsim.train.logging import NullLogger, TrainLogger
from worldsim.train.mesh import check_batch, constrain, make_mesh, place, shard_batch


@dataclass(frozen=True)
class TokenizerTrainConfig:
    model: TokenizerConfig = field(default_factory=TokenizerConfig.small)  # the autoencoder being trained
    worlds: tuple[str, ...] = ("bouncing_balls", "gravity", "push", "bouncing_balls+occluder")  # data mixture
    clip_frames: int = 4  # frames per training clip (the encoder looks one frame back)
    clips_per_world: int = 1  # batch = len(worlds) * clips_per_world clips
    steps: int = 6000  # total optimizer steps
    lr: float = 1e-3  # peak learning rate
    warmup: int = 200  # linear warmup steps
    weight_decay: float = 1e-4
    clip_norm: float = 1.0  # global gradient-norm clip
    video_folder: str | None = None  # optional folder of your own .mp4/.gif clips (see worldsim.data.VideoFolder)
    video_clips: int = 2  # clips per batch from video_folder (when given)
    seed: int = 0  # data and init seed (training seeds stay below data.HELD_OUT_SEED)
    log_every: int = 25
    save_every: int = 250
    video_every: int = 1000  # reconstruction videos (0 = never)

    def __post_init__(self):
        for name in ("steps", "clip_frames", "clips_per_world", "video_clips", "log_every", "save_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}={v!r} must be an integer >= 1")
        if self.warmup < 0 or self.video_every < 0:
            raise ValueError(f"warmup={self.warmup} and video_every={self.video_every} must be >= 0 (0: none)")
        if not 0 < self.lr < 1:
            raise ValueError(f"lr={self.lr}: use a learning rate in (0, 1)")
        if not self.worlds and not self.video_folder:
            raise ValueError("nothing to train on: give worlds, a video_folder, or both")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["model"] = self.model.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TokenizerTrainConfig":
        d = dict(d)
        d["model"] = TokenizerConfig.from_dict(d["model"])
        d["worlds"] = tuple(d["worlds"])
        return cls(**d)

    @classmethod
    def tiny(cls) -> "TokenizerTrainConfig":
        return cls(
            model=TokenizerConfig.tiny(), worlds=("bouncing_balls", "push"), clips_per_world=2, steps=60, warmup=10,
            lr=3e-3, log_every=10, save_every=20, video_every=0,
        )

    @classmethod
    def small(cls) -> "TokenizerTrainConfig":
        return cls()


def psnr(mse: jax.Array) -> jax.Array:
    return -10.0 * jnp.log10(jnp.maximum(mse, 1e-12))


def schedule(cfg: TokenizerTrainConfig) -> optax.Schedule:
    return optax.warmup_cosine_decay_schedule(0.0, cfg.lr, cfg.warmup, max(cfg.steps, cfg.warmup + 1), cfg.lr * 0.02)


def make_optimizer(cfg: TokenizerTrainConfig, model: Tokenizer) -> nnx.Optimizer:
    tx = optax.chain(optax.clip_by_global_norm(cfg.clip_norm), optax.adamw(schedule(cfg), weight_decay=cfg.weight_decay))
    return nnx.Optimizer(model, tx, wrt=nnx.Param)


@nnx.jit(static_argnames="mesh")
def train_step(model: Tokenizer, opt: nnx.Optimizer, frames: jax.Array, mesh=None):
    """One optimizer step. With a mesh (worldsim.train.mesh), the updated state keeps its FSDP shardings."""
    x = frames.astype(jnp.float32) / 255.0

    def loss_fn(m):
        return jnp.mean((m(x) - x) ** 2)

    loss, grads = nnx.value_and_grad(loss_fn)(model)
    opt.update(model, grads)
    if mesh is not None:
        constrain(model, mesh)
        constrain(opt, mesh)
    return {"loss": loss, "psnr": psnr(loss), "grad_norm": optax.tree.norm(grads)}


def _data_source(cfg: TokenizerTrainConfig):
    """step -> uint8 (B, T, H, W, 3): world-mixture clips, then clips from the video folder (if any)."""
    res, t = cfg.model.resolution, cfg.clip_frames
    mixture = WorldMixture(cfg.worlds, res, t, cfg.clips_per_world, cfg.seed) if cfg.worlds else None
    folder = VideoFolder(cfg.video_folder, res, t) if cfg.video_folder else None
    if folder is not None and hosts.is_main():
        print(f"{cfg.video_folder}: {folder.describe()}; {cfg.video_clips} random windows per batch",
              file=sys.stderr)

    def frames(step: int) -> jax.Array:
        parts = [mixture.frames(step)] if mixture else []
        if folder:
            parts.append(jnp.asarray(folder.batch(step, cfg.video_clips, cfg.seed)["frames"]))
        return jnp.concatenate(parts, axis=0)

    return frames


def train(cfg: TokenizerTrainConfig, workdir: str | Path, *, quiet: bool = False, mesh=None) -> Tokenizer:
    """Train (resuming from workdir's latest checkpoint if any); exports the final model to workdir/model.

    mesh: a worldsim.train.mesh spec ('data=4,fsdp=2') or Mesh; default one device (several processes: data
    parallel over all)."""
    workdir = Path(workdir)
    mesh = make_mesh(mesh)
    clips = len(cfg.worlds) * cfg.clips_per_world + (cfg.video_clips if cfg.video_folder else 0)
    check_batch(clips, mesh, "clips per batch (len(worlds) x clips_per_world + video_clips)")
    main = hosts.is_main()
    batch_frames = _data_source(cfg)
    model = Tokenizer(cfg.model, rngs=nnx.Rngs(cfg.seed))
    opt = make_optimizer(cfg, model)
    place(model, mesh)  # before restoring: a checkpoint restores onto this mesh's shardings, whatever wrote it
    place(opt, mesh)
    ckpt = Checkpointer(workdir / "checkpoints")
    start = ckpt.latest_step() or 0
    if start:
        saved = ckpt.restore(start, {"model": model, "opt": opt})
        resume_check(saved, cfg, workdir, start)
    if main:
        (workdir / "train_config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
        log = TrainLogger(workdir, cfg.steps, start, quiet=quiet, frames_per_step=clips * cfg.clip_frames)
    else:
        log = NullLogger()
    lr_at = schedule(cfg)

    def save(step: int) -> None:
        ckpt.save(step, {"model": model, "opt": opt}, {"train": cfg.to_dict(), "step": step})

    # Ctrl+C waits for the step under way, which is then saved (interrupt.py): never mid-compile or mid-write.
    with interrupt.guard(ckpt.directory, start or None, save, cfg.steps) as stop:
        try:
            for step in range(start, cfg.steps):
                frames = batch_frames(step)  # the global batch; each process hands over its own rows
                metrics = train_step(model, opt, shard_batch(frames, mesh), mesh=mesh)
                done = step + 1
                log.advance()
                if done % cfg.log_every == 0 or done == cfg.steps:
                    m = {k: float(v) for k, v in metrics.items()}
                    m["lr"] = float(lr_at(step))
                    log.scalars(done, m)
                if cfg.video_every and done % cfg.video_every == 0:
                    whole = hosts.local_copy(model)  # collective; then process 0 decodes on its own device
                    if main:
                        recon = whole.decode(whole.encode(frames[:1]))
                        log.video(done, "recon", np.concatenate([np.asarray(frames[0]), np.asarray(recon[0])],
                                                                axis=2))
                if done % cfg.save_every == 0 or done == cfg.steps:
                    stop.save(done)
                stop.after(done)
        finally:
            log.close()
            ckpt.close()
        whole = hosts.local_copy(model)
        if main:
            export(whole, workdir / "model", {"train": cfg.to_dict(), "steps": cfg.steps})
        hosts.barrier("worldsim-export")  # no process returns before the model is on disk
    return model
