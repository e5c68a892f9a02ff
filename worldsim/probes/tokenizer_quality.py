"""Round-trip quality of a tokenizer on held-out clips: PSNR, tracked-position error, object count, throughput."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

import worldsim.worlds as worlds_lib
from worldsim.data import HELD_OUT_SEED
from worldsim.probes import objects, track
from worldsim.tokenizer.model import Tokenizer


def round_trip(model: Tokenizer, frames: jax.Array, chunk: int = 8) -> jax.Array:
    """uint8 reconstructions of uint8 (B, T, H, W, 3), in chunks of clips to bound memory."""
    enc, dec = jax.jit(model.encode), jax.jit(model.decode)
    return jnp.concatenate([dec(enc(frames[i : i + chunk])) for i in range(0, frames.shape[0], chunk)], 0)


def compare(truth: jax.Array, recon: jax.Array, colour: jax.Array) -> dict[str, float]:
    """PSNR and tracker agreement between ground-truth and reconstructed uint8 clips of the same states."""
    x, y = np.asarray(truth, np.float32) / 255.0, np.asarray(recon, np.float32) / 255.0
    mse = np.mean((x - y) ** 2, axis=(2, 3, 4))  # (B,T)
    t_true, t_rec = objects(track(truth), colour), objects(track(recon), colour)
    ok = np.asarray(t_true.valid)
    err = np.linalg.norm(np.asarray(t_true.pos) - np.asarray(t_rec.pos), axis=-1)
    all_true, all_rec = track(truth).present, track(recon).present  # every palette colour, (B,T,C)
    count_ok = np.all(np.asarray(all_true) == np.asarray(all_rec), axis=-1)
    return {
        "psnr_db": float(np.mean(-10 * np.log10(np.maximum(mse, 1e-10)))),
        "psnr_of_mean_mse_db": float(-10 * np.log10(max(float(mse.mean()), 1e-10))),
        "track_err_px": float(np.nanmean(np.where(ok, err, np.nan))),
        "track_err_p95_px": float(np.nanpercentile(np.where(ok, err, np.nan), 95)),
        "track_lost_fraction": float(np.mean(np.isnan(err[ok]))),
        "count_preserved": float(count_ok.mean()),
    }


def evaluate(model: Tokenizer, worlds=("bouncing_balls", "gravity", "push"), clips: int = 32, frames: int = 32,
             seed: int = HELD_OUT_SEED, splits=("id",)) -> dict[str, dict[str, float]]:
    """Per world (and split): the `compare` measures on held-out clips at the tokenizer's resolution."""
    res = model.config.resolution
    out = {}
    for name in worlds:
        for split in splits:
            world = worlds_lib.make(name, split=split, resolution=res, num_frames=frames)
            ep = world.sample(jax.random.key(seed), clips)
            recon = round_trip(model, ep.frames)
            out[name if split == "id" else f"{name}/{split}"] = compare(ep.frames, recon, ep.states.colour)
    return out


def throughput(model: Tokenizer, batch: int = 8, frames: int = 16, repeats: int = 3) -> dict[str, float]:
    """Encode and decode frames/s (after compilation)."""
    res = model.config.resolution
    x = jnp.zeros((batch, frames, res, res, 3), jnp.uint8)
    enc, dec = jax.jit(model.encode), jax.jit(model.decode)
    z = enc(x).block_until_ready()
    dec(z).block_until_ready()
    t = time.perf_counter()
    for _ in range(repeats):
        z = enc(x).block_until_ready()
    t_enc = (time.perf_counter() - t) / repeats
    t = time.perf_counter()
    for _ in range(repeats):
        dec(z).block_until_ready()
    t_dec = (time.perf_counter() - t) / repeats
    n = batch * frames
    return {"encode_fps": n / t_enc, "decode_fps": n / t_dec}
