"""`key=value` overrides of a frozen dataclass config, values parsed by each field's declared type.

    cfg = apply(TokenizerTrainConfig.small(), ["lr=3e-4", "model.resolution=32", "worlds=gravity,push"])
    print(format_config(cfg))          # every key=value line, each one valid input to apply()

Dotted keys reach nested dataclass configs (`model.window`). Values: int, float, str, bool (true/false, yes/no,
on/off, 1/0), tuples as comma-separated items (`worlds=gravity,push`; an empty value is the empty tuple), and
`none` for an Optional field. All overrides are applied together, so settings that must agree (clip_frames and
model.window) can change in one go; the config's own checks then run once, on the result.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Iterable, Mapping

_TRUE, _FALSE, _NONE = ("true", "yes", "on", "1"), ("false", "no", "off", "0"), ("none", "null")


def _is_config(value) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def flatten(cfg) -> dict[str, object]:
    """{dotted key: value} of every setting of cfg, nested configs' settings included (in field order)."""
    out = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if _is_config(value):
            out.update({f"{f.name}.{k}": v for k, v in flatten(value).items()})
        else:
            out[f.name] = value
    return out


def keys(cfg) -> list[str]:
    """Every key apply() takes for cfg."""
    return list(flatten(cfg))


def format_value(value) -> str:
    """The text apply() parses back to `value`."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(format_value(x) for x in value)
    return repr(value) if isinstance(value, float) else str(value)


def format_config(cfg) -> str:
    """One `key=value` line per setting: the resolved config, each line valid input to apply()."""
    return "\n".join(f"{k}={format_value(v)}" for k, v in flatten(cfg).items())


def _type_name(tp) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            plural = {int: "integers", float: "numbers", bool: "true/false values", str: "names"}
            return f"comma-separated {plural.get(args[0], _type_name(args[0]))} (empty for none)"
        return f"{len(args)} comma-separated values ({', '.join(_type_name(a) for a in args)})"
    return {int: "an integer", float: "a number", bool: "true or false", str: "text",
            type(None): "none"}.get(tp, getattr(tp, "__name__", str(tp)))


def parse_value(text: str, tp):
    """text as a value of type tp; ValueError (without the key) if it is not one."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and text.strip().lower() in _NONE:
            return None
        for option in (a for a in args if a is not type(None)):
            try:
                return parse_value(text, option)
            except ValueError:
                continue
        raise ValueError(f"expected {_type_name(tp)}")
    if origin is tuple:
        body = text.strip()
        if body[:1] + body[-1:] in ("()", "[]"):
            body = body[1:-1]
        items = [x.strip() for x in body.split(",")] if body.strip() else []
        if items and items[-1] == "" and len(items) > 1:  # a trailing comma, as in Python's (a,)
            items.pop()
        kinds = [args[0]] * len(items) if len(args) == 2 and args[1] is Ellipsis else list(args)
        if len(items) != len(kinds):
            raise ValueError(f"expected {_type_name(tp)}, got {len(items)}")
        try:
            return tuple(parse_value(x, a) for x, a in zip(items, kinds))
        except ValueError:
            raise ValueError(f"expected {_type_name(tp)}") from None
    if tp is bool:
        low = text.strip().lower()
        if low in _TRUE or low in _FALSE:
            return low in _TRUE
        raise ValueError("expected true or false")
    if tp is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError("expected an integer") from None
    if tp is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError("expected a number") from None
    if tp is str:
        return text
    raise ValueError(f"settings of type {_type_name(tp)} cannot be set as text")


def _closest(key: str, valid: list[str]) -> list[str]:
    """Keys with the same last part (resolution -> model.resolution), else keys spelled alike in the same group."""
    prefix, _, leaf = key.rpartition(".")
    same_leaf = [k for k in valid if k.rpartition(".")[2] == leaf]
    if same_leaf:
        return same_leaf
    group = {k.rpartition(".")[2]: k for k in valid if k.rpartition(".")[0] == prefix}
    return [group[x] for x in difflib.get_close_matches(leaf, list(group), n=3, cutoff=0.6)]


def _split(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"{item!r}: write a setting as key=value (e.g. lr=3e-4 or model.resolution=32)")
    return key.strip(), value


def apply(cfg, items: Iterable[str], *, refused: Mapping[str, str] | None = None, hint: str = ""):
    """cfg with each `key=value` of items set (a later one for the same key wins); the config's own checks run on
    the result. refused: {key: why} for keys this caller does not let be set (the reason is the error). hint: a
    sentence added to an unknown-key error (e.g. how to list the keys)."""
    valid, refused = keys(cfg), dict(refused or {})
    changes: dict[str, object] = {}
    for item in items:
        key, text = _split(item)
        if key in refused:
            raise ValueError(f"{key}: {refused[key]}")
        if key not in valid:
            raise _unknown(cfg, key, valid, hint)
        changes[key] = _parse_for(cfg, key, text)
    try:
        return _rebuild(cfg, changes)
    except (ValueError, TypeError) as e:
        given = " ".join(f"{k}={format_value(v)}" for k, v in changes.items())
        raise ValueError(f"{type(cfg).__name__}: {e} (with the settings {given})") from None


def _unknown(cfg, key: str, valid: list[str], hint: str) -> ValueError:
    """The error for a key cfg does not have: the keys it resembles, else the keys at its level."""
    groups = {k.split(".")[0] for k in valid if "." in k}
    if key in groups:
        return ValueError(f"{key} is a group of settings: set its keys, e.g. "
                          f"{', '.join(k for k in valid if k.startswith(key + '.'))}")
    close = _closest(key, valid)
    head = key.split(".")[0] if key.split(".")[0] in groups else None
    level = [k for k in valid if (k.startswith(head + ".") if head else "." not in k)]
    nested = "" if head or not groups else f" (and nested ones: {', '.join(sorted(groups))}.KEY)"
    where = f" in {head}" if head else ""
    listing = f"did you mean {' or '.join(close)}?" if close else f"valid keys{where}: {', '.join(level)}{nested}."
    return ValueError(f"unknown setting {key!r} for {type(cfg).__name__}: {listing} {hint}".strip())


def _parse_for(cfg, key: str, text: str):
    *path, name = key.split(".")
    owner = cfg
    for part in path:
        owner = getattr(owner, part)
    tp = typing.get_type_hints(type(owner))[name]
    try:
        return parse_value(text, tp)
    except ValueError as e:
        raise ValueError(f"{key}={text!r}: {e} (the current value is {format_value(getattr(owner, name))})") \
            from None


def _rebuild(cfg, changes: dict[str, object]):
    """cfg with the dotted-key changes, each nested config rebuilt once (so its checks see all its changes)."""
    own = {k: v for k, v in changes.items() if "." not in k}
    nested: dict[str, dict[str, object]] = {}
    for k, v in changes.items():
        if "." in k:
            head, rest = k.split(".", 1)
            nested.setdefault(head, {})[rest] = v
    for head, sub in nested.items():
        own[head] = _rebuild(getattr(cfg, head), sub)
    return dataclasses.replace(cfg, **own) if own else cfg
