"""Prompts as model input: UTF-8 bytes, padded and masked (no vocabulary, no tokenizer download, any language).

Data preparation and the dynamics' text encoder (worldsim.dynamics.text) both read prompts this way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def encode_prompts(prompts: Sequence[str | bytes], max_text_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """list of prompts -> (bytes int32 (B, max_text_bytes), mask bool (B, max_text_bytes)); padding is 0/False.

    Every row is padded to max_text_bytes, so all batches share one shape and a jitted model never retraces.
    """
    if isinstance(prompts, (str, bytes)):
        raise ValueError(f"prompts must be a list of prompts, got a single {type(prompts).__name__}: pass [prompt]")
    try:
        prompts = list(prompts)
    except TypeError:
        raise ValueError(f"prompts must be a list of str, got {type(prompts).__name__}") from None
    if not prompts:
        raise ValueError("prompts is empty: pass at least one prompt, or no text at all (text=None)")
    ids = np.zeros((len(prompts), max_text_bytes), np.int32)
    mask = np.zeros((len(prompts), max_text_bytes), bool)
    for i, p in enumerate(prompts):
        if isinstance(p, bytes):
            try:
                p.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ValueError(f"prompt {i} is not valid UTF-8 ({e.reason} at byte {e.start}): pass a str") from None
            raw = p
        elif isinstance(p, str):
            try:
                raw = p.encode("utf-8")
            except UnicodeEncodeError as e:  # a lone surrogate (e.g. half of an emoji cut off)
                raise ValueError(f"prompt {i} holds a character UTF-8 cannot encode ({e.reason}, {p[e.start]!r} at "
                                 f"position {e.start}): pass text without it") from None
        else:
            raise ValueError(f"prompt {i} is a {type(p).__name__}, not a str: pass text prompts (or text=None)")
        if not raw.strip():
            raise ValueError(f"prompt {i} is empty: write a caption, or pass text=None for no text")
        if len(raw) > max_text_bytes:
            raise ValueError(
                f"prompt {i} is {len(raw)} bytes in UTF-8 but this model takes at most {max_text_bytes} "
                "(DynamicsConfig.max_text_bytes): shorten the prompt or train a model with a larger max_text_bytes"
            )
        if b"\x00" in raw:  # NUL is the first-frame prior's "no caption" marker (prior.null_prompt)
            raise ValueError(f"prompt {i} holds a NUL byte (\\x00), which means 'no caption' to the model: pass the "
                             "text without it")
        ids[i, : len(raw)] = np.frombuffer(raw, np.uint8)
        mask[i, : len(raw)] = True
    return ids, mask
