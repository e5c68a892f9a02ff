"""The simulator's state and per-step output: immutable pytrees of fixed-shape arrays (one episode; vmap adds a
leading batch axis to every leaf)."""

from __future__ import annotations

from typing import NamedTuple

import jax

from worldsim.dynamics import Cache


class Readout(NamedTuple):
    """Physical state of the current frame read from the latents, per colour slot (worlds.COLOUR_NAMES order)."""

    present: jax.Array  # (C,) float32 probability that a ball of this colour is in the frame
    pos: jax.Array  # (C, 2) float32 centre, world units (box [0, 1]^2, x right, y down)
    vel: jax.Array  # (C, 2) float32 velocity, world units / s


class SimState(NamedTuple):
    """Everything a step needs. The latent `latent` is the frame on screen; it has not been fed to the dynamics yet
    (the action that follows it is part of its input), so `cache` holds the frames before it."""

    cache: Cache  # dynamics KV cache: prompt sink + ring of the last W frames before `latent`; fixed size
    hidden: jax.Array  # (N, d) float32 dynamics output at `latent` under a zero action: the readout reads it
    latent: jax.Array  # (g, g, D) float32 the current latent frame
    text_emb: jax.Array  # (d,) float32 the text conditioning (the learned no-text vector when there is no prompt)
    t: jax.Array  # () int32 steps taken since init (the key of step t is derived from it)
    done: jax.Array  # () bool terminal: a step on a done state returns it unchanged
    branch: jax.Array  # () uint32 fork lineage: forked copies draw different samples from the same key


class StepOutput(NamedTuple):
    """What one step produced (rollout stacks these along a leading time axis)."""

    frames: jax.Array | None  # (F, H, W, 3) uint8 the new frames (F = 1 per latent); None when decode=False
    latent: jax.Array  # (g, g, D) float32 the new latent frame
    readout: Readout | None  # physical state of the new frame; None for a model without a state head
    t: jax.Array  # () int32 the new state's step counter
    done: jax.Array  # () bool the new state is terminal
    valid: jax.Array  # () bool False when the step hit an already-terminal state (outputs repeat its last frame)

    @property
    def frame(self) -> jax.Array | None:
        """(..., H, W, 3) uint8: the last new frame (the only one, with this tokenizer)."""
        return None if self.frames is None else self.frames[..., -1, :, :, :]
