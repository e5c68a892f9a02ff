"""A WorldModel as a Predictor: the evaluation harness drives the trained model through the Simulator, exactly as
a user would (same reset/rollout, same sampling settings).

    p = ModelPredictor(ws.load("default"))
    report = ws.probes.evaluate(p, "standard")
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from worldsim.data.latents import truncate_caption
from worldsim.sim import Simulator, WorldModel


class ModelPredictor:
    """continue_frames / first_frames through ws.Simulator; surprise = per-frame error of the mean-flow
    prediction of each latent frame from the frames before it (teacher-forced); latents = the dynamics model's
    hidden state after each frame (what its state head reads), or the tokenizer's latents with
    latents_from="tokenizer"."""

    def __init__(self, model: WorldModel, *, temperature: float | None = None, reproject: bool | None = None,
                 name: str | None = None, latents_from: str = "dynamics"):
        if latents_from not in ("dynamics", "tokenizer"):
            raise ValueError(f"latents_from={latents_from!r}: use 'dynamics' or 'tokenizer'")
        self.latents_from = latents_from
        if not isinstance(model, WorldModel):
            raise TypeError(f"ModelPredictor needs a WorldModel (ws.load(...)), got {type(model).__name__}")
        self.model = model
        self.resolution = model.resolution
        self.name = name or f"worldsim:{model.source}"
        self._kw = dict(temperature=temperature, reproject=reproject)
        self._sims: dict[int, Simulator] = {}

    def _sim(self, batch: int) -> Simulator:
        if batch not in self._sims:
            self._sims[batch] = Simulator(self.model, batch_size=batch, **self._kw)
        return self._sims[batch]

    def continue_frames(self, frames, actions, captions, num_frames, key) -> np.ndarray:
        frames = np.asarray(frames)
        b, k = frames.shape[:2]
        a_dim = self.model.action_dim
        acts = np.zeros((b, k + num_frames, a_dim), np.float32) if actions is None else np.asarray(actions, np.float32)
        sim = self._sim(b)
        k_reset, k_roll = jax.random.split(key)
        state = sim.reset(k_reset, prompt=self._prompts(captions) if captions else None, frames=frames,
                          actions=acts[:, : k - 1] if k > 1 else None)
        # a_{k-1} moves the last given frame to the first generated one.
        _, outs = sim.rollout(state, acts[:, k - 1 : k - 1 + num_frames], k_roll)
        return np.asarray(outs.frames[:, :, -1])  # (B, num_frames, H, W, 3)

    def first_frames(self, captions, key) -> np.ndarray:
        sim = self._sim(len(captions))
        return np.asarray(sim.render(sim.reset(key, prompt=self._prompts(captions))))

    def _prompts(self, captions) -> list[str]:
        """Captions cut to the model's max_text_bytes at a word boundary, as its trainer cut them."""
        return [truncate_caption(c, self.model.max_text_bytes) for c in captions]

    def surprise(self, frames, actions, key) -> np.ndarray:
        frames = np.asarray(frames)
        acts = None if actions is None else jnp.asarray(actions, jnp.float32)
        return np.asarray(_surprise(self.model, jnp.asarray(frames), acts))

    def latents(self, frames) -> np.ndarray:
        fn = _hidden if self.latents_from == "dynamics" else _encode
        z = np.asarray(fn(self.model, jnp.asarray(np.asarray(frames))))
        return z.reshape(z.shape[:2] + (-1,))


@nnx.jit
def _encode(model: WorldModel, frames):
    return model.tokenizer.encode(frames)


@nnx.jit
def _hidden(model: WorldModel, frames):
    """(B, T, N, d): the dynamics output after each frame (position t + 1 has seen frames <= t), no text."""
    return model.dynamics(model.tokenizer.encode(frames))[:, 1:]


@nnx.jit
def _surprise(model: WorldModel, frames, actions):
    """(B, T): mean squared error of the mean-flow prediction of latent frame t given frames < t (frame 0: given
    nothing but the no-text prompt). Large where the clip does what the model did not expect."""
    z = model.tokenizer.encode(frames)  # (B, T, g, g, D)
    h = model.dynamics(z, actions)  # (B, T + 1, N, d); h[:, t] predicts z[:, t]
    pred = model.dynamics.sample_frame(h[:, : z.shape[1]], jax.random.key(0), temperature=0.0)
    return jnp.mean((pred - z) ** 2, axis=(2, 3, 4))
