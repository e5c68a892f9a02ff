"""The teacher-forced objective: flow matching on every next frame, plus the state readout where states exist.

One forward pass over [prompt, z_0 .. z_{T-1}] gives hiddens h_0 .. h_T; h_p is the condition for z_p (so the
prompt alone is trained to generate first frames), and h_{t+1} is read as the state of frame t.
"""

from __future__ import annotations

import jax

from worldsim.dynamics.flow import flow_loss
from worldsim.dynamics.model import DynamicsModel
from worldsim.dynamics.state import state_loss


def teacher_forced_loss(
    model: DynamicsModel, latents, key, *, actions=None, text=None, text_emb=None, states=None,
    state_weight: float = 1.0,
) -> tuple[jax.Array, dict]:
    """latents (B, T, g, g, D); states = (pos (B,T,C,2), vel (B,T,C,2), present (B,T,C)) by colour slot
    (see state.states_by_colour), or None. Returns (loss, metrics)."""
    h = model(latents, actions, text=text, text_emb=text_emb)  # (B, T + 1, N, d)
    t = latents.shape[1]
    flow = flow_loss(model.flow, h[:, :t], model.to_tokens(latents), key)
    metrics = {"flow_loss": flow}
    loss = flow
    if states is not None and model.state_head is not None:
        s_loss, parts = state_loss(model.read_state(h[:, 1:]), *states)
        loss = loss + state_weight * s_loss
        metrics.update(parts, state_loss=s_loss)
    metrics["loss"] = loss
    return loss, metrics
