"""The teacher-forced objective: flow matching on every next frame, plus the state readout where states exist.

One forward pass over [prompt, z_0 .. z_{T-1}] gives hiddens h_0 .. h_T; h_p is the condition for z_p (so the
prompt alone is trained to generate first frames), and h_{t+1} is read as the state of frame t.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from worldsim.dynamics import checks
from worldsim.dynamics.flow import flow_loss
from worldsim.dynamics.model import DynamicsModel
from worldsim.dynamics.state import state_loss
from worldsim.dynamics.text import encode_prompts


def first_frame_prior_loss(model: DynamicsModel, latents, ids, mask, key, drop: float = 0.0) -> jax.Array:
    """The first-frame prior's flow loss on z_0 of each clip (B, T, g, g, D) given its caption's bytes (B, L) and
    mask; clips without a caption (all-False mask) weigh nothing. drop: share of captions swapped for the null
    prompt (the unconditional flow that classifier-free guidance needs)."""
    b = latents.shape[0]
    ids, mask = jnp.broadcast_to(jnp.asarray(ids), (b, ids.shape[-1])), jnp.broadcast_to(jnp.asarray(mask, bool),
                                                                                          (b, mask.shape[-1]))
    return model.prior.loss(model.to_tokens(latents[:, 0]), ids, mask, jax.random.fold_in(key, 4),
                            weights=mask.any(-1), drop=drop)


def teacher_forced_loss(
    model: DynamicsModel, latents, key, *, actions=None, text=None, text_emb=None, states=None,
    state_weight: float = 1.0,
) -> tuple[jax.Array, dict]:
    """latents (B, T, g, g, D); states = (pos (B,T,C,2), vel (B,T,C,2), present (B,T,C)) by colour slot
    (see state.states_by_colour), or None. Returns (loss, metrics). A model with a first-frame prior also trains
    it on z_0 of the clips given text (as prompts or bytes; a text_emb carries no bytes for it to read)."""
    h = model(latents, actions, text=text, text_emb=text_emb)  # (B, T + 1, N, d)
    t = latents.shape[1]
    flow = flow_loss(model.flow, h[:, :t], model.to_tokens(latents), key)
    metrics = {"flow_loss": flow}
    loss = flow
    if model.prior is not None and text is not None:
        if isinstance(text, (tuple, list)) and len(text) == 2 and hasattr(text[0], "ndim"):
            ids, mask = checks.check_text_arrays(text[0], text[1], latents.shape[0], model.config.max_text_bytes)
        else:
            ids, mask = encode_prompts(text, model.config.max_text_bytes)
        prior = first_frame_prior_loss(model, latents, ids, mask, key)
        loss = loss + prior
        metrics["prior_loss"] = prior
    if states is not None and model.state_head is not None:
        s_loss, parts = state_loss(model.read_state(h[:, 1:]), *states)
        loss = loss + state_weight * s_loss
        metrics.update(parts, state_loss=s_loss)
    metrics["loss"] = loss
    return loss, metrics
