"""Clips encoded once by a frozen tokenizer: the dynamics model's training set.

Encoding is the expensive part on CPU, so it happens up front and the result is kept as an .npz beside the run
(`cached=` on the builders): a resumed run loads it instead of encoding again. The file stores a fingerprint of the
tokenizer (config and weights) and of the builder's arguments, and is rebuilt when either changes.

Per clip: latents (T, g, g, D); actions (T, A) (zeros, and has_actions False, for passive worlds and videos without
an actions sidecar); the caption as UTF-8 bytes + mask (all False = no text); per-colour state targets (has_state
False for the user's videos); the clip's source (world entry, or "videos").
Batches are deterministic per (seed, index), like the world mixture, so training resumes bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np
from flax import nnx

import worldsim.worlds as worlds_lib
from worldsim.data.mixture import HELD_OUT_SEED, _parse
from worldsim.data.prompts import encode_prompts
from worldsim.data.states import states_by_colour
from worldsim.data.video_folder import SUFFIXES, VideoFolder
from worldsim.io.tqdm_bar import tqdm

FORMAT = 1  # bump when the .npz layout changes: older caches are rebuilt
_ARRAYS = ("latents", "actions", "has_actions", "text_ids", "text_mask", "state_pos", "state_vel", "state_present",
           "has_state", "source")


@dataclass(frozen=True, eq=False)
class LatentDataset:
    latents: np.ndarray  # (N, T, g, g, D) float32 or float16 (storage only; batches are float32)
    actions: np.ndarray  # (N, T, A) float32; actions[:, t] acts between frame t and t+1
    has_actions: np.ndarray  # (N,) bool: False where actions are zeros because the clip has none
    text_ids: np.ndarray  # (N, L) int32 caption bytes, 0-padded
    text_mask: np.ndarray  # (N, L) bool; an all-False row = no caption
    state_pos: np.ndarray  # (N, T, C, 2) float32 per-colour ball centres (world units)
    state_vel: np.ndarray  # (N, T, C, 2) float32 per-colour velocities
    state_present: np.ndarray  # (N, T, C) bool
    has_state: np.ndarray  # (N,) bool: False for clips without ground-truth state (the user's videos)
    source: np.ndarray  # (N,) int32 index into `sources`
    sources: tuple[str, ...]  # names of the clips' origins: world entries, or "videos"
    fingerprint: str = ""  # identifies tokenizer + builder arguments (see `cached=`)
    captions_truncated: int = 0  # captions cut to fit max_text_bytes (at a word boundary)

    def __post_init__(self):
        n = len(self.latents)
        if self.latents.ndim != 5:
            raise ValueError(f"latents must be (N, T, g, g, D), got {self.latents.shape}")
        for name in _ARRAYS:
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} clips but latents has {n}")
        t = self.latents.shape[1]
        for name in ("actions", "state_pos", "state_vel", "state_present"):
            if getattr(self, name).shape[1] != t:
                raise ValueError(f"{name} has {getattr(self, name).shape[1]} frames per clip but latents has {t}")
        if n and int(self.source.max()) >= len(self.sources):
            raise ValueError(f"source ids go up to {int(self.source.max())} but there are {len(self.sources)} sources")

    def __len__(self) -> int:
        return len(self.latents)

    @property
    def num_frames(self) -> int:
        return self.latents.shape[1]

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        return tuple(self.latents.shape[2:])

    def caption(self, i: int) -> str | None:
        """Clip i's caption (None when it has none)."""
        m = self.text_mask[i]
        return bytes(self.text_ids[i][m].astype(np.uint8)).decode("utf-8") if m.any() else None

    def subset(self, index) -> "LatentDataset":
        """The clips at `index` (ints, a slice or a bool mask); the fingerprint is dropped."""
        arrays = {k: getattr(self, k)[index] for k in _ARRAYS}
        return LatentDataset(**arrays, sources=self.sources)

    def batch(self, index: int, batch_size: int, seed: int = 0, clip_frames: int | None = None) -> dict:
        """Random clips and random windows of `clip_frames` frames (default: whole clips), a function of
        (seed, index) only. Returns numpy arrays with a leading batch axis; latents are float32."""
        t = self.num_frames if clip_frames is None else int(clip_frames)
        if not 1 <= t <= self.num_frames:
            raise ValueError(f"clip_frames={clip_frames}: clips here have {self.num_frames} frames")
        if batch_size < 1 or not len(self):
            raise ValueError(f"cannot draw a batch of {batch_size} from {len(self)} clips")
        rng = np.random.default_rng([seed, index])
        clip = rng.integers(len(self), size=batch_size)
        start = rng.integers(self.num_frames - t + 1, size=batch_size)
        frames = start[:, None] + np.arange(t)  # (B, t)
        rows = clip[:, None]
        return {
            "latents": self.latents[rows, frames].astype(np.float32),  # (B, t, g, g, D)
            "actions": self.actions[rows, frames],  # (B, t, A)
            "has_actions": self.has_actions[clip],
            "text_ids": self.text_ids[clip],  # (B, L)
            "text_mask": self.text_mask[clip],
            "state_pos": self.state_pos[rows, frames],  # (B, t, C, 2)
            "state_vel": self.state_vel[rows, frames],
            "state_present": self.state_present[rows, frames],  # (B, t, C)
            "has_state": self.has_state[clip],
            "source": self.source[clip],
        }

    # ----- files -----

    def save(self, path: str | Path) -> Path:
        """Write an .npz (atomically: a killed run never leaves half a file)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT, "sources": list(self.sources), "fingerprint": self.fingerprint,
                "captions_truncated": self.captions_truncated}
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            np.savez(f, meta=np.array(json.dumps(meta)), **{k: getattr(self, k) for k in _ARRAYS})
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "LatentDataset":
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no latent dataset at {path}: build one with LatentDataset.from_worlds / "
                                    "from_video_folder and save it")
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            if meta.get("format") != FORMAT:
                raise ValueError(f"{path} is a latent dataset of format {meta.get('format')}, this version reads "
                                 f"{FORMAT}: rebuild it")
            arrays = {k: f[k] for k in _ARRAYS}
        return cls(**arrays, sources=tuple(meta["sources"]), fingerprint=meta["fingerprint"],
                   captions_truncated=int(meta.get("captions_truncated", 0)))

    # ----- builders -----

    @classmethod
    def from_worlds(
        cls, tokenizer, entries, clips_per_world: int, num_frames: int, seed: int = 0, *, chunk: int = 16,
        held_out: bool = False, max_text_bytes: int = 192, action_dim: int = 2, num_colours: int = 6,
        dtype: str = "float32", cached: str | Path | None = None, quiet: bool = False,
    ) -> "LatentDataset":
        """`clips_per_world` clips of `num_frames` frames from each world entry ('name' or 'name+occluder').

        Deterministic from (seed, entry, chunk): training seeds are [0, HELD_OUT_SEED); held_out=True draws from
        the evaluation seeds (HELD_OUT_SEED + seed) instead. `cached`: an .npz to reuse, or to write.
        """
        entries = tuple(entries)
        if not entries:
            raise ValueError("from_worlds needs at least one world entry")
        if not 0 <= seed < HELD_OUT_SEED:
            raise ValueError(f"seed must be in [0, {HELD_OUT_SEED}); use held_out=True for evaluation clips")
        _check_counts(clips_per_world=clips_per_world, num_frames=num_frames, chunk=chunk)
        _check_dtype(dtype)
        res = tokenizer.config.resolution
        made = []
        for e in entries:
            name, over = _parse(e)
            made.append(worlds_lib.make(name, resolution=res, num_frames=num_frames, **over))
        args = dict(builder="worlds", entries=entries, clips_per_world=clips_per_world, num_frames=num_frames,
                    seed=seed, chunk=chunk, held_out=held_out, max_text_bytes=max_text_bytes, action_dim=action_dim,
                    num_colours=num_colours, dtype=dtype)
        fp = fingerprint(tokenizer, args)
        if (hit := _cache_hit(cached, fp)) is not None:
            return hit

        base = jax.random.key(HELD_OUT_SEED + seed if held_out else seed)
        encode = _encoder(tokenizer)
        parts = []
        bar = tqdm(total=len(entries) * clips_per_world, disable=quiet, unit="clip", desc="encoding worlds")
        for src, (entry, world) in enumerate(zip(entries, made)):
            if world.action_dim not in (0, action_dim):
                raise ValueError(f"world {entry!r} has {world.action_dim}-D actions but the model takes {action_dim}")
            wkey = jax.random.fold_in(base, zlib.crc32(entry.encode()))  # adding a world leaves the others as they are
            for c, lo in enumerate(range(0, clips_per_world, chunk)):
                n = min(chunk, clips_per_world - lo)
                ep = world.sample(jax.random.fold_in(wkey, c), chunk)  # always `chunk` clips: one compiled shape
                lat = np.asarray(encode(ep.frames))[:n]
                s = ep.states
                if int(np.max(s.colour)) >= num_colours:
                    raise ValueError(f"world {entry!r} uses {int(np.max(s.colour)) + 1} colours, more than the "
                                     f"model's num_colours={num_colours}")
                pos, vel, present = (np.asarray(x)[:n] for x in states_by_colour(
                    s.pos, s.vel, s.colour, s.present, num_colours))
                acts = np.zeros((n, num_frames, action_dim), np.float32)
                if world.action_dim:
                    acts[:] = np.asarray(ep.actions)[:n]
                parts.append(dict(
                    latents=lat.astype(dtype), actions=acts, has_actions=np.full(n, world.action_dim > 0),
                    captions=ep.captions[:n], state_pos=pos.astype(np.float32), state_vel=vel.astype(np.float32),
                    state_present=present, has_state=np.ones(n, bool), source=np.full(n, src, np.int32),
                ))
                bar.update(n)
        bar.close()
        return _finish(parts, entries, max_text_bytes, fp, cached)

    @classmethod
    def from_video_folder(
        cls, tokenizer, folder, clips: int, num_frames: int, seed: int = 0, *, chunk: int = 16,
        max_text_bytes: int = 192, action_dim: int = 2, num_colours: int = 6, dtype: str = "float32",
        cached: str | Path | None = None, quiet: bool = False,
    ) -> "LatentDataset":
        """`clips` random windows of `num_frames` frames from a folder of videos (see data.VideoFolder), chosen
        deterministically from seed. Captions and actions come from the sidecars; no state targets."""
        _check_counts(clips=clips, num_frames=num_frames, chunk=chunk)
        _check_dtype(dtype)
        folder = Path(folder)
        args = dict(builder="videos", folder=str(folder.absolute()), files=_folder_listing(folder), clips=clips,
                    num_frames=num_frames, seed=seed, chunk=chunk, max_text_bytes=max_text_bytes,
                    action_dim=action_dim, num_colours=num_colours, dtype=dtype)
        fp = fingerprint(tokenizer, args)
        if (hit := _cache_hit(cached, fp)) is not None:
            return hit
        vf = VideoFolder(folder, tokenizer.config.resolution, num_frames)
        if vf.action_dim not in (0, action_dim):
            raise ValueError(f"the action sidecars in {folder} hold {vf.action_dim}-D actions but the model takes "
                             f"{action_dim} (DynamicsConfig.action_dim): save (T, {action_dim}) arrays")
        rng = np.random.default_rng([seed, 0x71D])
        pick = rng.integers(len(vf), size=clips)
        if not quiet:  # what was read, and how much of it the windows cover
            used = len(set(pick.tolist()))
            more = " (raise the window count, --clips, to cover more)" if used < len(vf) else ""
            print(f"{folder}: {vf.describe()}; {clips} windows of {num_frames} frames drawn from {used} of the "
                  f"{len(vf)} videos{more}", file=sys.stderr)
        starts = [int(rng.integers(len(vf.clips[i].frames) - num_frames + 1)) for i in pick]
        encode = _encoder(tokenizer)
        parts = []
        bar = tqdm(total=clips, disable=quiet, unit="clip", desc="encoding videos")
        for lo in range(0, clips, chunk):
            idx = range(lo, min(lo + chunk, clips))
            n = len(idx)
            window = [vf.clips[pick[i]].frames[starts[i]: starts[i] + num_frames] for i in idx]
            frames = np.stack(window + [window[-1]] * (chunk - n))  # pad to one compiled shape
            acts = np.zeros((n, num_frames, action_dim), np.float32)
            has = np.zeros(n, bool)
            for j, i in enumerate(idx):
                a = vf.clips[pick[i]].actions
                if a is not None:
                    acts[j], has[j] = a[starts[i]: starts[i] + num_frames], True
            c = num_colours
            parts.append(dict(
                latents=np.asarray(encode(frames))[:n].astype(dtype), actions=acts, has_actions=has,
                captions=[vf.clips[pick[i]].caption for i in idx],
                state_pos=np.zeros((n, num_frames, c, 2), np.float32), state_vel=np.zeros((n, num_frames, c, 2),
                                                                                          np.float32),
                state_present=np.zeros((n, num_frames, c), bool), has_state=np.zeros(n, bool),
                source=np.zeros(n, np.int32),
            ))
            bar.update(n)
        bar.close()
        return _finish(parts, ("videos",), max_text_bytes, fp, cached)


def concat(datasets) -> LatentDataset:
    """One dataset from several (same clip length, latent shape, text length, action size and colours)."""
    datasets = [d for d in datasets if d is not None]
    if not datasets:
        raise ValueError("concat needs at least one dataset")
    first = datasets[0]
    for d in datasets[1:]:
        for name in ("latents", "actions", "text_ids", "state_pos"):
            a, b = getattr(first, name).shape[1:], getattr(d, name).shape[1:]
            if a != b:
                raise ValueError(f"cannot concatenate datasets whose {name} are {a} and {b} per clip: build them "
                                 "with the same num_frames, tokenizer, max_text_bytes, action_dim and num_colours")
    sources, source = [], []
    for d in datasets:
        remap = np.array([_index(sources, s) for s in d.sources], np.int32)
        source.append(remap[d.source])
    arrays = {k: np.concatenate([getattr(d, k) for d in datasets]) for k in _ARRAYS if k != "source"}
    arrays["latents"] = np.concatenate([d.latents.astype(first.latents.dtype) for d in datasets])
    fp = hashlib.sha256("|".join(d.fingerprint for d in datasets).encode()).hexdigest()
    return LatentDataset(**arrays, source=np.concatenate(source), sources=tuple(sources), fingerprint=fp,
                         captions_truncated=sum(d.captions_truncated for d in datasets))


def tokenizer_fingerprint(tokenizer) -> str:
    """sha256 over the tokenizer's config and weights."""
    h = hashlib.sha256(json.dumps(tokenizer.config.to_dict(), sort_keys=True).encode())
    for leaf in jax.tree.leaves(nnx.state(tokenizer, nnx.Param)):
        h.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
    return h.hexdigest()


def fingerprint(tokenizer, args: dict) -> str:
    """What a cached dataset must match: format, tokenizer and builder arguments."""
    key = json.dumps({"format": FORMAT, "tokenizer": tokenizer_fingerprint(tokenizer), **args}, sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()


def encode_captions(captions, max_text_bytes: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Captions (None = no text) -> (ids (N, L), mask (N, L), number truncated). A caption longer than L bytes
    is cut at the last space that fits (never inside a UTF-8 character)."""
    ids = np.zeros((len(captions), max_text_bytes), np.int32)
    mask = np.zeros((len(captions), max_text_bytes), bool)
    cut = 0
    for i, c in enumerate(captions):
        if c is None or not c.strip():
            continue
        raw = c.encode("utf-8")
        if len(raw) > max_text_bytes:
            cut += 1
            c = truncate_caption(c, max_text_bytes)
        ids[i : i + 1], mask[i : i + 1] = encode_prompts([c], max_text_bytes)
    return ids, mask, cut


def truncate_caption(text: str, max_bytes: int) -> str:
    """text cut to at most max_bytes of UTF-8, at the last space that fits (never inside a character)."""
    if len(text.encode("utf-8")) <= max_bytes:
        return text
    raw = text.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")  # drops a split trailing character
    space = raw.rfind(" ")
    return raw[:space].rstrip(" ,;:") if space > 0 else raw


_encode = nnx.jit(lambda tok, frames: tok.encode(frames))  # one compiled function per tokenizer config and shape


def _encoder(tokenizer):
    return lambda frames: _encode(tokenizer, frames)


def _finish(parts, sources, max_text_bytes, fp, cached) -> LatentDataset:
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0] if k != "captions"}
    ids, mask, cut = encode_captions([c for p in parts for c in p["captions"]], max_text_bytes)
    ds = LatentDataset(**cat, text_ids=ids, text_mask=mask, sources=tuple(sources), fingerprint=fp,
                       captions_truncated=cut)
    if cached is not None:
        ds.save(cached)
    return ds


def _cache_hit(cached, fp: str) -> LatentDataset | None:
    if cached is None or not Path(cached).exists():
        return None
    try:
        ds = LatentDataset.load(cached)
    except (ValueError, KeyError, OSError):
        return None  # unreadable or an old format: rebuild
    return ds if ds.fingerprint == fp else None


def _folder_listing(folder: Path) -> list:
    """Names, sizes and modification times of the videos and sidecars: a changed folder means new latents."""
    if not folder.is_dir():
        raise FileNotFoundError(f"video folder {folder} does not exist: pass a folder of .mp4 / .gif files")
    keep = SUFFIXES + (".txt", ".npy")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in keep)
    return [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in files]


def _check_counts(**values) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name}={v!r}: use an integer >= 1")


def _check_dtype(dtype: str) -> None:
    if dtype not in ("float32", "float16"):
        raise ValueError(f"dtype={dtype!r}: store latents as 'float32' or 'float16'")


def _index(items: list, item) -> int:
    if item not in items:
        items.append(item)
    return items.index(item)
