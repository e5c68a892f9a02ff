"""The latent dynamics model: a space/time-factorized causal transformer over tokenizer latents.

Time runs over P = T + 1 positions: [prompt frame, z_0, ..., z_{T-1}]. The hidden at position p predicts latent
frame p (the prompt's output predicts z_0; z_t's output, with action a_t added to its input, predicts z_{t+1}).
Each block: spatial attention within a frame (all N tokens), temporal attention at each token position across
frames (causal, last W frames plus the prompt sink; see cache.py), MLP; all pre-RMSNorm.

Temporal attention uses RoPE over the absolute frame index for frame-to-frame scores, which then depend only on
the frame offset (< W); the prompt sink is scored without rotation (raw q . raw k), so its score does not drift
with the step number either. Together: a rollout at step 10_000 sees exactly the kind of context it saw in
training, at the cost of a fixed-size cache.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from worldsim.dynamics import checks
from worldsim.dynamics.cache import Cache, empty_cache, ring_slot, window_mask
from worldsim.dynamics.config import DynamicsConfig
from worldsim.dynamics.flow import FlowHead, sample, time_features
from worldsim.dynamics.layers import QKV, Mlp, attend_logits, rope
from worldsim.dynamics.layout import LayoutPrior
from worldsim.dynamics.prior import FirstFramePrior
from worldsim.dynamics.state import StateHead, StatePred
from worldsim.dynamics.text import TextEncoder, encode_prompts
from worldsim.dynamics.tokens import from_tokens, to_tokens


class SpaceTimeBlock(nnx.Module):
    """Spatial attention within each frame, temporal attention per token position across frames, MLP."""

    def __init__(self, cfg: DynamicsConfig, *, rngs: nnx.Rngs):
        d = cfg.d_model
        self.window, self.base = cfg.window, cfg.rope_base
        self.n_space = nnx.RMSNorm(d, rngs=rngs)
        self.space = QKV(d, cfg.num_heads, rngs=rngs)
        self.n_time = nnx.RMSNorm(d, rngs=rngs)
        self.time = QKV(d, cfg.num_heads, rngs=rngs)
        self.n_mlp = nnx.RMSNorm(d, rngs=rngs)
        self.mlp = Mlp(d, cfg.mlp_ratio * d, rngs=rngs)

    def _logits(self, q, k_rot, pos, k_sink):
        """q (B, N, Sq, H, hd) unrotated at positions pos (Sq,); k_rot (B, N, Sk, H, hd) rotated keys whose slot 0
        is the sink; k_sink (B, N, H, hd) the sink's raw key -> logits (B, N, H, Sq, Sk)."""
        scale = 1.0 / jnp.sqrt(jnp.float32(q.shape[-1]))
        frames = jnp.einsum("bnqhd,bnkhd->bnhqk", rope(q, pos, self.base), k_rot[:, :, 1:])
        sink = jnp.einsum("bnqhd,bnhd->bnhq", q, k_sink)[..., None]
        return jnp.concatenate([sink, frames], axis=-1) * scale

    def __call__(self, x):
        """Teacher-forced: x (B, P, N, d), all positions at once."""
        x = x + self.space(self.n_space(x))  # within each frame
        q, k, v = self.time.split(jnp.swapaxes(self.n_time(x), 1, 2))  # (B, N, P, H, hd)
        pos = jnp.arange(x.shape[1])
        # rope at position 0 is the identity, so k_rot[:, :, 0] is the sink's raw key, as in the cache.
        logits = self._logits(q, rope(k, pos, self.base), pos, k[:, :, 0])
        o = attend_logits(logits, v, window_mask(x.shape[1], self.window))  # (B, N, P, H, hd)
        x = x + jnp.swapaxes(self.time.merge(o), 1, 2)
        return x + self.mlp(self.n_mlp(x))

    def step(self, x, k_cache, v_cache, valid, pos, slot):
        """One frame: x (B, N, d) at absolute position pos; its key/value go to cache slot `slot` (valid already
        marks it). Caches (B, N, 1 + W, H, hd). Returns (x, k_cache, v_cache)."""
        x = x + self.space(self.n_space(x))
        q, k, v = self.time.split(self.n_time(x)[:, :, None])  # (B, N, 1, H, hd)
        p = jnp.reshape(pos, (1,))
        k_cache = k_cache.at[:, :, slot].set(rope(k, p, self.base)[:, :, 0])
        v_cache = v_cache.at[:, :, slot].set(v[:, :, 0])
        logits = self._logits(q, k_cache, p, k_cache[:, :, 0])  # (B, N, H, 1, 1 + W)
        o = attend_logits(logits, v_cache, valid)  # (B, N, 1, H, hd)
        x = x + self.time.merge(o[:, :, 0])
        return x + self.mlp(self.n_mlp(x)), k_cache, v_cache


class DynamicsModel(nnx.Module):
    """forward (teacher-forced, all frames) and init_cache/prefill/step (one frame at a time, fixed cost)."""

    def __init__(self, cfg: DynamicsConfig, *, rngs: nnx.Rngs):
        self.config = cfg
        d, n, s = cfg.d_model, cfg.tokens_per_frame, cfg.tokens_per_side
        small = nnx.initializers.normal(0.02)
        self.inp = nnx.Linear(cfg.token_dim, d, rngs=rngs)
        self.row = nnx.Param(small(rngs.params(), (s, 1, d)))  # 2-D position = row + column embedding
        self.col = nnx.Param(small(rngs.params(), (1, s, d)))
        self.action = nnx.Linear(cfg.action_dim, d, rngs=rngs)
        self.noise_level = (nnx.Linear(d, d, kernel_init=nnx.initializers.zeros, rngs=rngs) if cfg.noise_embed
                            else None)  # sinusoidal features of a frame's context-noise std -> its token offset
        self.delta = (nnx.Linear(cfg.token_dim, d, use_bias=False, kernel_init=nnx.initializers.zeros, rngs=rngs)
                      if cfg.frame_delta else None)  # a frame's change from the one before -> its token offset
        self.prompt = nnx.Param(small(rngs.params(), (n, d)))  # the prompt frame's learned tokens
        self.no_text = nnx.Param(small(rngs.params(), (d,)))  # stands in for the text embedding when there is none
        self.text = TextEncoder(cfg, rngs=rngs)
        self.text_proj = nnx.Linear(d, d, rngs=rngs)
        self.blocks = nnx.List([SpaceTimeBlock(cfg, rngs=rngs) for _ in range(cfg.num_layers)])
        self.norm = nnx.RMSNorm(d, rngs=rngs)
        self.state_head = StateHead(cfg, rngs=rngs) if cfg.state_head else None
        self.flow = FlowHead(cfg, rngs=rngs)
        self.prior = FirstFramePrior(cfg, rngs=rngs) if cfg.prior_dim else None
        self.layout = LayoutPrior(cfg, rngs=rngs) if cfg.layout_dim else None

    # ----- inputs -----

    def to_tokens(self, z):
        """(..., g, g, D) -> (..., N, token_dim)."""
        return to_tokens(z, self.config.group)

    def from_tokens(self, tokens):
        """(..., N, token_dim) -> (..., g, g, D)."""
        return from_tokens(tokens, self.config.group)

    def _pos2d(self):
        return (self.row[...] + self.col[...]).reshape(self.config.tokens_per_frame, -1)  # (N, d)

    def _embed_frames(self, z, a, noise=None, prev=None):
        """z (B, T, g, g, D), a (B, T, A) or None, noise (B, T) context-noise stds or None (= clean) -> (B, T, N, d).
        noise is read only by a model with a noise-level embedding (DynamicsConfig.noise_embed); prev (B, g, g, D),
        the frame before z[:, 0] (None: z[:, 0] is a first frame, its change is zero), only by one with
        DynamicsConfig.frame_delta."""
        x = self.inp(self.to_tokens(z)) + self._pos2d()
        if self.delta is not None:
            before = jnp.concatenate([z[:, :1] if prev is None else prev[:, None], z[:, :-1]], axis=1)
            x = x + self.delta(self.to_tokens(z - before))
        if a is None:  # no actions == zero actions, so a model trained with actions also runs without them
            a = jnp.zeros(z.shape[:2] + (self.config.action_dim,), jnp.float32)
        x = x + self.action(a)[:, :, None, :]
        if self.noise_level is not None:
            n = jnp.zeros(z.shape[:2], jnp.float32) if noise is None else jnp.broadcast_to(
                jnp.asarray(noise, jnp.float32), z.shape[:2])
            feats = time_features(n.reshape(-1), self.config.d_model).reshape(z.shape[:2] + (-1,))
            x = x + self.noise_level(feats)[:, :, None, :]
        return x

    def encode_text(self, text) -> jax.Array:
        """Prompts (list of str) or (bytes, mask) arrays from encode_prompts -> (B, d_model) text embeddings,
        usable later as text_emb=. Rows with an all-False mask get the learned no-text vector."""
        if isinstance(text, (tuple, list)) and len(text) == 2 and hasattr(text[0], "ndim"):  # (bytes, mask) arrays
            ids, mask = checks.check_text_arrays(text[0], text[1], jnp.shape(text[0])[0], self.config.max_text_bytes)
        else:
            ids, mask = encode_prompts(text, self.config.max_text_bytes)
        emb = self.text(jnp.asarray(ids), jnp.asarray(mask))
        return jnp.where(jnp.asarray(mask).any(-1, keepdims=True), emb, self.no_text[...])

    def _text_condition(self, batch: int, text, text_emb) -> jax.Array:
        """-> (batch, d_model): text_emb, else the encoded text, else the no-text vector."""
        if text is not None and text_emb is not None:
            raise ValueError("pass either text or text_emb, not both")
        if text_emb is not None:
            e = checks.check_text_emb(text_emb, batch, self.config.d_model)
        elif text is not None:
            e = self.encode_text(text)
            if e.shape[0] not in (1, batch):
                raise ValueError(f"got {e.shape[0]} prompts for a batch of {batch}: pass one per example (or one)")
        else:
            e = self.no_text[...][None]
        return jnp.broadcast_to(e, (batch, e.shape[-1]))

    def _embed_prompt(self, batch: int, text, text_emb):
        """-> (B, N, d): learned prompt tokens + 2-D positions + projected text embedding."""
        e = self.text_proj(self._text_condition(batch, text, text_emb))
        return self.prompt[...] + self._pos2d() + e[:, None, :]

    # ----- teacher-forced -----

    def forward(self, latents, actions=None, text=None, text_emb=None, noise_level=None) -> jax.Array:
        """latents (B, T, g, g, D), actions (B, T, A) -> hidden (B, T + 1, N, d_model); position 0 = prompt.
        noise_level (B, T): the std of the noise on each input frame, for a model with DynamicsConfig.noise_embed
        (None = clean frames).

        text: a list of B (or 1) prompts, or (bytes, mask) from encode_prompts (use these under jit);
        text_emb: precomputed (B, d_model) embeddings instead (e.g. model.encode_text(prompts)).
        """
        cfg = self.config
        z = checks.check_latents(latents, cfg.latent_shape)
        b, t = z.shape[:2]
        a = checks.check_actions(actions, (b, t), cfg.action_dim)
        x = jnp.concatenate([self._embed_prompt(b, text, text_emb)[:, None], self._embed_frames(z, a, noise_level)],
                            axis=1)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)

    __call__ = forward

    # ----- cached, one frame at a time -----

    def init_cache(self, batch: int) -> Cache:
        c = self.config
        return empty_cache(c.num_layers, batch, c.tokens_per_frame, c.window, c.num_heads, c.head_dim,
                           c.latent_shape)

    def _run_cached(self, cache: Cache, x, pos, slot, valid, t, last) -> tuple[jax.Array, Cache]:
        ks, vs = [], []
        for i, blk in enumerate(self.blocks):
            x, k, v = blk.step(x, cache.k[i], cache.v[i], valid, pos, slot)
            ks.append(k)
            vs.append(v)
        return self.norm(x), Cache(k=jnp.stack(ks), v=jnp.stack(vs), valid=valid, t=t, last=last)

    def prefill(self, cache: Cache, text=None, text_emb=None) -> tuple[jax.Array, Cache]:
        """Run the prompt frame into slot 0 and empty the ring (so a used cache starts a new episode).
        Returns (hidden (B, N, d), cache); the hidden predicts z_0 (sample it with sample_frame)."""
        x = self._embed_prompt(cache.k.shape[1], text, text_emb)
        valid = jnp.zeros_like(cache.valid).at[0].set(True)
        zero = jnp.zeros((), jnp.int32)
        return self._run_cached(cache, x, zero, zero, valid, zero, jnp.zeros_like(cache.last))

    def step(self, cache: Cache, latent, action=None, noise_level=None) -> tuple[jax.Array, Cache]:
        """Feed latent frame z_t (B, g, g, D) and action a_t (B, A) -> (hidden (B, N, d) predicting z_{t+1},
        cache). noise_level (B,) or scalar: the std of the noise on z_t (see forward). Call prefill first. Same
        shapes and cost at every t."""
        cfg = self.config
        z = checks.check_latents(latent, cfg.latent_shape, frames=False)
        b = cache.k.shape[1]
        if z.shape[0] != b:
            raise ValueError(f"latent batch {z.shape[0]} != cache batch {b}: init_cache with the same batch size")
        a = checks.check_actions(action, (b,), cfg.action_dim)
        noise = None if noise_level is None else jnp.broadcast_to(jnp.asarray(noise_level, jnp.float32), (b,))[:, None]
        prev = jnp.where(cache.t > 0, cache.last, z)  # the first frame has no change
        x = self._embed_frames(z[:, None], None if a is None else a[:, None], noise, prev)[:, 0]
        slot = ring_slot(cache.t, cfg.window)
        valid = cache.valid.at[slot].set(True)
        return self._run_cached(cache, x, cache.t + 1, slot, valid, cache.t + 1, z.astype(jnp.float32))

    # ----- heads -----

    def read_state(self, h) -> StatePred:
        """Per-colour state from hidden (..., N, d). By convention hidden position t + 1 (it has seen z_t) is read
        as the state of frame t."""
        if self.state_head is None:
            raise ValueError("this model has no state head (DynamicsConfig.state_head=False)")
        return self.state_head(h)

    def sample_frame(self, h, key, steps: int | None = None, temperature: float = 1.0, h_uncond=None,
                     guidance: float = 1.0) -> jax.Array:
        """Sample the latent frame that hidden h (..., N, d) predicts -> (..., g, g, D). h_uncond (same shape, e.g.
        from prefill without text) and guidance > 1 give classifier-free guidance towards the condition."""
        return self.from_tokens(sample(self.flow, h, key, steps, temperature, h_uncond, guidance))

    @property
    def has_first_frame_prior(self) -> bool:
        """Whether sample_first_frame works: the model has a layout prior or a first-frame prior."""
        return self.layout is not None or self.prior is not None

    def sample_first_frame(self, ids, mask, key, steps: int | None = None, temperature: float = 1.0,
                           guidance: float = 1.0) -> jax.Array:
        """A first latent frame (B, g, g, D) for prompts given as bytes (B, L) + mask (B, L) (encode_prompts).

        From the layout prior (layout.py) where the model has one (steps and guidance do not apply to it), else
        from the first-frame prior (prior.py) with classifier-free guidance when guidance != 1 (a Python float:
        it decides the traced program). Models with neither raise: use sample_frame on the prefill hidden."""
        ids, mask = jnp.asarray(ids), jnp.asarray(mask, bool)
        if self.layout is not None:
            return self.layout.sample(ids, mask, key, temperature)
        if self.prior is None:
            raise ValueError("this model has no first-frame prior (DynamicsConfig.prior_dim=0, layout_dim=0): "
                             "sample the first frame from prefill's hidden with sample_frame")
        return self.from_tokens(self.prior.sample(ids, mask, key, steps, temperature, float(guidance)))
